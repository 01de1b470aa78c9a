// Package proc runs a benchmark subject as a child process and measures its
// wall time, CPU time and peak resident memory.
//
// Peak RSS is read from /proc/<pid>/status VmHWM while the child runs and
// cross-checked with wait4's ru_maxrss. VmHWM belongs to the child's own
// address space; ru_maxrss can also count the parent's pages (Linux folds
// the high-water mark of the address space replaced by exec into it, and Go
// starts children with vfork), so a large harness would inflate it. This
// package must not judge results; it only measures.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is one measured run.
type Result struct {
	Wall    time.Duration
	User    time.Duration
	System  time.Duration
	PeakRSS int64 // bytes: the last VmHWM seen, or ru_maxrss if none was seen
	MaxRSS  int64 // bytes: wait4's ru_maxrss, for reference
	Stderr  string
}

// CPU is user plus system time.
func (r Result) CPU() time.Duration { return r.User + r.System }

// PollInterval is how often VmHWM is sampled. VmHWM only grows, so a
// sample misses at most the growth of the child's last interval.
const PollInterval = 10 * time.Millisecond

// Run starts name with args, waits for it and measures it. A non-zero exit
// is an error that carries the tail of the child's stderr.
func Run(ctx context.Context, env []string, name string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() {
		var peak int64
		path := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
		t := time.NewTicker(PollInterval)
		defer t.Stop()
		for {
			if v, ok := readHWM(path); ok && v > peak {
				peak = v
			}
			select {
			case <-done:
				hwm <- peak
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	peak := <-hwm

	r := Result{Wall: wall, Stderr: stderr.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.User = time.Duration(ru.Utime.Nano())
		r.System = time.Duration(ru.Stime.Nano())
		r.MaxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	r.PeakRSS = peak
	if peak == 0 {
		r.PeakRSS = r.MaxRSS
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), firstArg(args), err, tail(r.Stderr, 800))
	}
	return r, nil
}

// readHWM returns VmHWM in bytes from a /proc/<pid>/status file.
func readHWM(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(v)
			if len(fields) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
