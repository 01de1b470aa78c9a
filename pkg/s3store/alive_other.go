//go:build !unix

package s3store

// processAlive cannot tell here: every spool file's owner counts as
// running, so none is removed.
func processAlive(int) bool { return true }
