package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Scenario 5: the output disk fills up (a 1 MiB tmpfs): jobs fail with a
// clear message and no partial file remains; after space is freed,
// retry --all-failed completes.
func TestFullDisk(t *testing.T) {
	needFull(t)
	out := filepath.Join(t.TempDir(), "small-disk")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", out).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot mount a small tmpfs for the full-disk scenario (need root): %v %s", err, b)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", out).Run() })
	c := newCluster(t, clusterOptions{outDir: out})
	coord := c.coordinator()
	c.fetcher(4)
	c.writer(2)
	o, code := c.process("2024-03-04", "2024-03-06", 3*time.Minute)
	if code != 1 {
		t.Errorf("process-range on a full disk: exit %d, want 1:\n%s", code, o)
	}
	coord.stop(t)
	jobs := c.check(threeDays, true)
	failed := 0
	for _, j := range jobs {
		if j.Outcome == spx.JobFailed || j.Outcome == spx.JobDead {
			failed++
			if !strings.Contains(j.LastError, "disk is full") || !strings.Contains(j.LastError, "spx retry") {
				t.Errorf("%s: %q does not say the disk is full", j.Key, j.LastError)
			}
		}
	}
	if failed == 0 {
		t.Fatalf("no job failed on a 1 MiB disk: %v", countOutcomes(jobs))
	}
	t.Logf("on the full disk: %v; e.g. %q", countOutcomes(jobs), firstError(jobs))

	if b, err := exec.Command("mount", "-o", "remount,size=64m", out).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v %s", err, b)
	}
	coord = c.coordinator()
	freed := time.Now()
	o, code = c.cli(3*time.Minute, "retry", "--all-failed", "--nats", c.natsURL, "--log-level", "warn")
	if code != 0 {
		t.Fatalf("retry --all-failed after freeing space: exit %d:\n%s", code, o)
	}
	t.Logf("retry --all-failed completed in %s", time.Since(freed).Round(time.Millisecond))
	coord.stop(t)
	c.check(threeDays, false)
}

func firstError(jobs []spx.JobRecord) string {
	for _, j := range jobs {
		if j.LastError != "" {
			return j.LastError
		}
	}
	return ""
}
