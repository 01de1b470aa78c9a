package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestProfileFlagsWriteProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"calendar", "--from", "2024-01-02", "--to", "2024-01-05", "--cpuprofile", cpu, "--memprofile", mem}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, p := range []string{cpu, mem} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("profile not written: %v", err)
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", p)
		}
	}
	if out.Len() == 0 {
		t.Error("the profiled command printed nothing")
	}
}

func TestProfileFlagBadPathFails(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"calendar", "--from", "2024-01-02", "--to", "2024-01-05", "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.prof")}, &out, &errb)
	if code != 1 || !bytes.Contains(errb.Bytes(), []byte("CPU profile")) {
		t.Fatalf("exit %d, stderr %q: want 1 and a message about the CPU profile", code, errb.String())
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	tests := []struct {
		name   string
		env    bool
		limit  int64
		expect int64
	}{
		{"default applied", false, 123 << 20, 123 << 20},
		{"GOMEMLIMIT wins", true, 77 << 20, before},
		{"no limit for the command", false, 0, before},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(before)
			if tc.env {
				t.Setenv("GOMEMLIMIT", "1GiB")
			}
			if got := applyMemoryLimit(tc.limit); got != tc.expect {
				t.Errorf("applyMemoryLimit = %d, want %d", got, tc.expect)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.expect {
				t.Errorf("runtime limit = %d, want %d", got, tc.expect)
			}
		})
	}
}

func TestMemoryLimitsNameRealCommands(t *testing.T) {
	root := NewRootCommand(&Options{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	for name := range memoryLimits {
		c, _, err := root.Find([]string{name})
		if err != nil || c == root || c.Name() != name {
			t.Errorf("memory limit for %q, which is not a command", name)
		}
	}
}
