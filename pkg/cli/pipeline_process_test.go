package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// TestProcessVerifyRetry runs the CLI end to end with no coordinator
// running: process starts the pipeline in-process, verify checks the files,
// a corrupted file fails verify, and retry <date> repairs it.
func TestProcessVerifyRetry(t *testing.T) {
	sim := terminalsim.New(terminalsim.Config{Seed: 9, Concurrency: 4, MaxExpirations: 2, MaxStrikes: 4})
	v3, _, stop, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dir := t.TempDir()
	db, out := filepath.Join(dir, "spx.db"), filepath.Join(dir, "parquet")
	t.Setenv("SPX_NATS_LISTEN", "127.0.0.1:1") // nothing listens: no coordinator to find
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_THETADATA_API", "v3")
	t.Setenv("SPX_THETADATA_CONCURRENCY", "2")
	global := []string{"--db", db, "--output-dir", out, "--terminal", v3}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append(args, global...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, stdout, stderr := run("process", "2024-03-14")
	if code != 0 || !strings.Contains(stdout, "success") {
		t.Fatalf("process: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "jobs ") || !strings.Contains(stderr, "MB/s") {
		t.Errorf("no progress line on stderr: %s", stderr)
	}
	if code, stdout, _ = run("process", "2024-03-14"); code != 0 || !strings.Contains(stdout, "Nothing to do") {
		t.Errorf("second process: exit %d: %s", code, stdout)
	}
	if code, stdout, stderr = run("verify", "--format", "table"); code != 0 {
		t.Fatalf("verify: exit %d: %s %s", code, stdout, stderr)
	}

	st, err := statusdb.Open(db, statusdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := st.Jobs(context.Background(), spx.JobFilter{Outcomes: []spx.JobOutcome{spx.JobWritten}})
	st.Close()
	if err != nil || len(jobs) == 0 {
		t.Fatalf("written jobs: %d, %v", len(jobs), err)
	}
	path := filepath.Join(out, jobs[0].Key.RelPath())
	data, _ := os.ReadFile(path)
	data[len(data)/3] ^= 0x55
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ = run("verify", "--format", "table"); code != 1 || !strings.Contains(stdout, "spx retry 2024-03-14") {
		t.Fatalf("verify of a corrupt file: exit %d: %s", code, stdout)
	}
	if code, stdout, stderr = run("retry", "2024-03-14"); code != 0 {
		t.Fatalf("retry: exit %d: %s %s", code, stdout, stderr)
	}
	if code, stdout, _ = run("verify", "--format", "table"); code != 0 {
		t.Fatalf("verify after retry: exit %d: %s", code, stdout)
	}
}

func TestPipelineCommandsRejectBadInput(t *testing.T) {
	tests := [][]string{
		{"process", "2024-13-01"},
		{"process"},
		{"process-range", "2024-02-01", "2024-01-01"},
		{"process-gaps", "--start-date", "yesterday"},
		{"retry"},
		{"retry", "2024-01-02", "--all-failed"},
		{"retry", "--last-n", "0"},
		{"verify", "--from", "2024-02-01", "--to", "2024-01-01"},
		{"run", "--fetchers", "-1"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append(args, "--db", filepath.Join(t.TempDir(), "spx.db"))
			if code := Main(context.Background(), args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2 (stderr: %s)", code, stderr.String())
			}
		})
	}
}
