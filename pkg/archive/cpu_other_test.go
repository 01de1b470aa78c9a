//go:build !unix

package archive

func cpuSeconds() float64 { return 0 }
