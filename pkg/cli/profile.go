package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// Memory limits applied to the Go runtime (debug.SetMemoryLimit) when the
// GOMEMLIMIT environment variable is not set. They are soft limits: the
// garbage collector works harder near them instead of letting the heap grow
// to twice the live data, which is what keeps peak RSS flat in the size of an
// expiration. A single role (and spx convert) aims for a 256 MiB peak RSS,
// the all-in-one (embedded NATS, coordinator, fetchers, writers) for 512 MiB.
const (
	MemoryLimitRole     = 200 << 20
	MemoryLimitAllInOne = 400 << 20
)

// memoryLimits says which commands get which default limit. Commands not
// listed (status, list, config …) keep the runtime's default (no limit).
var memoryLimits = map[string]int64{
	"convert":       MemoryLimitRole,
	"fetcher":       MemoryLimitRole,
	"writer":        MemoryLimitRole,
	"coordinator":   MemoryLimitRole,
	"run":           MemoryLimitAllInOne,
	"process":       MemoryLimitAllInOne,
	"process-range": MemoryLimitAllInOne,
	"process-gaps":  MemoryLimitAllInOne,
}

// applyMemoryLimit sets the runtime's soft memory limit to limit bytes unless
// GOMEMLIMIT is set (the runtime has already applied it then) or limit ≤ 0.
// It returns the limit in effect afterwards.
func applyMemoryLimit(limit int64) int64 {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok || limit <= 0 {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(limit)
	return limit
}

// profileFlags are the hidden --cpuprofile and --memprofile flags.
type profileFlags struct {
	cpu, mem string
}

// addProfiling registers the hidden global --cpuprofile FILE (or env
// SPX_CPUPROFILE) and --memprofile FILE (or env SPX_MEMPROFILE) flags, and
// wraps every command's RunE so the profile covers the command and is written
// even when it fails. It also applies each command's default memory limit.
// Call it once, after every command has been added.
func addProfiling(root *cobra.Command) {
	pf := &profileFlags{}
	flags := root.PersistentFlags()
	flags.StringVar(&pf.cpu, "cpuprofile", "", "write a CPU profile (pprof) of the command to FILE (env SPX_CPUPROFILE)")
	flags.StringVar(&pf.mem, "memprofile", "", "write a heap profile (pprof) at the end of the command to FILE (env SPX_MEMPROFILE)")
	_ = flags.MarkHidden("cpuprofile")
	_ = flags.MarkHidden("memprofile")
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			wrap(sub)
		}
		run := c.RunE
		if run == nil {
			return
		}
		limit := memoryLimits[c.Name()]
		if c.Parent() != root {
			limit = 0 // only top-level commands are roles
		}
		c.RunE = func(cmd *cobra.Command, args []string) (err error) {
			applyMemoryLimit(limit)
			stop, err := pf.start()
			if err != nil {
				return err
			}
			defer func() {
				if serr := stop(); serr != nil && err == nil {
					err = serr
				}
			}()
			return run(cmd, args)
		}
	}
	wrap(root)
}

// start begins CPU profiling if asked for; the returned stop ends it and
// writes the heap profile.
func (pf *profileFlags) start() (stop func() error, err error) {
	cpu, mem := pf.cpu, pf.mem
	if cpu == "" {
		cpu = os.Getenv("SPX_CPUPROFILE")
	}
	if mem == "" {
		mem = os.Getenv("SPX_MEMPROFILE")
	}
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, fmt.Errorf("creating the CPU profile: %w (check --cpuprofile / SPX_CPUPROFILE)", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("starting the CPU profile: %w", err)
		}
		cpuFile = f
	}
	return func() error {
		var errs []error
		if cpuFile != nil {
			pprof.StopCPUProfile()
			if err := cpuFile.Close(); err != nil {
				errs = append(errs, fmt.Errorf("writing the CPU profile: %w", err))
			}
		}
		if mem != "" {
			if err := writeHeapProfile(mem); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the heap profile: %w (check --memprofile / SPX_MEMPROFILE)", err)
	}
	runtime.GC() // up-to-date statistics of live objects
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	return nil
}
