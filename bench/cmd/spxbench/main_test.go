package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary stands in for spxbench when re-executed as the DuckDB
// child, so the harness runs here exactly as it does for real.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(config) bool
	}{
		{"defaults are a full day", nil, false, func(c config) bool {
			return c.rows == fullRows && c.memSmall == 1_000_000 && c.memLarge == 4_000_000 && len(c.threads) == 2 && c.threads[0] == 2
		}},
		{"quick", []string{"-quick"}, false, func(c config) bool { return c.rows == quickRows && c.memSmall == 250_000 && c.memLarge == 1_000_000 }},
		{"quick keeps explicit rows", []string{"-quick", "-rows", "5000"}, false, func(c config) bool { return c.rows == 5000 }},
		{"threads", []string{"-duckdb-threads", "4"}, false, func(c config) bool { return len(c.threads) == 1 && c.threads[0] == 4 }},
		{"bad threads", []string{"-duckdb-threads", "two"}, true, nil},
		{"memory sizes reversed", []string{"-mem-small", "10", "-mem-large", "5"}, true, nil},
		{"stray argument", []string{"day.ndjson"}, true, nil},
		{"spx env", []string{"-spx-env", "GOMEMLIMIT=200MiB", "-spx-env", "GOGC=50"}, false, func(c config) bool { return len(c.spxEnv) == 2 && c.spxEnv[1] == "GOGC=50" }},
		{"bad spx env", []string{"-spx-env", "GOGC"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, &bytes.Buffer{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
	if code := Main(context.Background(), []string{"-rows", "0"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Fatalf("bad flags exit %d, want 2", code)
	}
}

// TestRunEndToEnd runs the whole harness on a small input with a stand-in
// "spx" that converts through DuckDB: the table, the targets and a passing
// correctness gate must come out, and the work directory must be removed.
func TestRunEndToEnd(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "spx")
	// spx convert --dataset greeks IN OUT
	script := "#!/bin/sh\n[ \"$1 $2 $3\" = \"convert --dataset greeks\" ] || { echo bad args \"$@\" >&2; exit 2; }\nexec " + self + " " + childCommand + " -threads 1 \"$4\" \"$5\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"-rows", "4000", "-mem-small", "400", "-mem-large", "1600", "-spx", fake, "-dir", work}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	s := out.String()
	for _, want := range []string{
		"| day 4k | spx convert | 4301 |", "| day 4k | duckdb 2 threads | 4301 |", "| day 4k | duckdb 1 thread | 4301 |",
		"| 1 expiration 1k | spx convert | 1955 |", "| 1 expiration 1k | duckdb 2 threads | 1955 |", "| 1.00× | 1.000× |",
		"| underlying_price |", "Correctness gate", "PASS (4301 rows, 16 numeric and 2 string columns agree)",
		"| 2 output size |", "| 3b flat memory |", "| 4 end to end |", "| SKIP |", "Machine: ",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("work directory left behind: %v", entries)
	}
}

func TestRunReportsMissingConverter(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "spx")
	os.WriteFile(fake, []byte("#!/bin/sh\necho 'spx: convert is not built yet' >&2\nexit 2\n"), 0o755)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"-rows", "800", "-mem-small", "0", "-duckdb-threads", "1", "-spx", fake, "-dir", dir, "-strict"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: a missing converter is reported, not an error\n%s\n%s", code, out.String(), errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "failed: spx convert: exit status 2") || !strings.Contains(s, "convert is not built yet") || !strings.Contains(s, "not run: a converter failed") {
		t.Fatalf("report does not say spx convert failed:\n%s", s)
	}
}
