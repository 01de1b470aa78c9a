package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// storeRunSPX runs the CLI in-process and returns its exit code and output.
func storeRunSPX(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// storeSeededDB creates a status database with a few days, jobs, errors and a
// stored config value.
func storeSeededDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spx.db")
	s, err := statusdb.Open(path, statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2024, 1, 10, 22, 0, 0, 0, time.UTC)
	days := []spx.DayRecord{
		{Date: spx.NewDate(2024, 1, 2), Status: spx.DaySuccess, RecordCount: 1000, FileSizeBytes: 2048, Checksum: "aa", JobsTotal: 2, JobsDone: 2, StartedAt: at, CompletedAt: at.Add(time.Minute), ProcessingDurationMs: 60000},
		{Date: spx.NewDate(2024, 1, 3), Status: spx.DayNoData, JobsTotal: 1, JobsDone: 1},
		{Date: spx.NewDate(2024, 1, 4), Status: spx.DayFailed, ErrorMessage: "471 PERMISSION: upgrade your subscription", RetryCount: 3, UpdatedAt: at.Add(time.Hour)},
		{Date: spx.NewDate(2024, 1, 5), Status: spx.DayPartial, RecordCount: 500, FileSizeBytes: 1024, JobsTotal: 2, JobsDone: 1},
	}
	for _, d := range days {
		if err := s.PutDay(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	k := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 1, 2), Expiration: spx.NewDate(2024, 1, 2)}
	if err := s.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: spx.JobWritten, Rows: 1000}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendError(ctx, spx.ErrorEntry{Time: at, Type: "permanent", Message: "471 PERMISSION", Date: spx.NewDate(2024, 1, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(ctx, "thetadata.concurrency", "8"); err != nil {
		t.Fatal(err)
	}
	return path
}

func storeReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadInputIsUsageErrorAndChangesNothing(t *testing.T) {
	db := storeSeededDB(t)
	dir := t.TempDir()
	afile := filepath.Join(dir, "afile")
	if err := os.WriteFile(afile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingDB := filepath.Join(dir, "nope", "spx.db")
	underFile := filepath.Join(afile, "spx.db")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"impossible date", []string{"--db", db, "gap-analysis", "--start-date", "2024-02-30", "--end-date", "2024-03-29"}, `invalid date "2024-02-30"`},
		{"slashed date", []string{"--db", db, "gap-analysis", "--start-date", "2024/01/02"}, "use YYYY-MM-DD"},
		{"word date", []string{"--db", db, "list", "--from", "yesterday"}, `invalid date "yesterday": use YYYY-MM-DD`},
		{"word end date", []string{"--db", db, "gap-analysis", "--end-date", "yesterday"}, "--end-date: invalid date"},
		{"start after end", []string{"--db", db, "gap-analysis", "--start-date", "2024-03-01", "--end-date", "2024-02-01"}, "--start-date 2024-03-01 is after --end-date 2024-02-01"},
		{"start after last session", []string{"--db", db, "gap-analysis", "--start-date", "2099-01-02"}, "--start-date 2099-01-02 is after the latest complete session"},
		{"list from after to", []string{"--db", db, "list", "--from", "2024-03-01", "--to", "2024-02-01"}, "is after --to"},
		{"future end", []string{"--db", db, "gap-analysis", "--start-date", "2024-01-02", "--end-date", "2099-01-02"}, "has not closed yet; the latest complete session is " + calendar.LastClosedSession(time.Now()).String()},
		{"unknown key", []string{"--db", db, "config", "set", "thetadata.concurency", "5"}, `unknown config key "thetadata.concurency"; did you mean "thetadata.concurrency"?`},
		{"unknown key get", []string{"--db", db, "config", "get", "procesing.roots"}, `did you mean "processing.roots"?`},
		{"non-numeric concurrency", []string{"--db", db, "config", "set", "thetadata.concurrency", "abc"}, "whole number from 1 to 128"},
		{"concurrency above 128", []string{"--db", db, "config", "set", "thetadata.concurrency", "129"}, "129 is out of range: must be from 1 to 128"},
		{"output dir is a file", []string{"--db", db, "config", "set", "processing.output_dir", afile}, "processing.output_dir " + afile + " is a file, not a directory: choose another path"},
		{"database.path not storable", []string{"--db", db, "config", "set", "database.path", "/x.db"}, "use --db or SPX_DATABASE_PATH"},
		{"bad format", []string{"--db", db, "status", "--format", "xml"}, `invalid --format "xml": use table or json`},
		{"db dir missing (write)", []string{"--db", missingDB, "config", "set", "thetadata.concurrency", "4"}, "directory " + filepath.Dir(missingDB) + " does not exist"},
		{"db dir missing (read)", []string{"--db", missingDB, "status"}, "does not exist"},
		{"db dir is a file (write)", []string{"--db", underFile, "config", "set", "thetadata.concurrency", "4"}, afile + " is not a directory"},
		{"db dir is a file (read)", []string{"--db", underFile, "list"}, "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := storeReadFile(t, db)
			code, stdout, stderr := storeRunSPX(t, tt.args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("stderr has %d lines, want one: %q", n+1, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !bytes.Equal(before, storeReadFile(t, db)) {
				t.Error("the database changed")
			}
			if _, err := os.Stat(filepath.Dir(missingDB)); !errors.Is(err, fs.ErrNotExist) {
				t.Error("a missing database directory was created")
			}
		})
	}
}

func TestLockedDatabaseFailsFast(t *testing.T) {
	db := storeSeededDB(t)
	s, err := statusdb.Open(db, statusdb.Options{}) // plays the coordinator
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, args := range [][]string{
		{"--db", db, "status"},
		{"--db", db, "config", "set", "thetadata.concurrency", "4"},
	} {
		start := time.Now()
		code, _, stderr := storeRunSPX(t, args...)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%v took %v, want < 3s", args, took)
		}
		if code != 1 || !strings.Contains(stderr, db) || !strings.Contains(stderr, "another spx process") {
			t.Errorf("%v: exit %d, stderr %q; want 1 naming %s", args, code, stderr, db)
		}
	}
}

func TestCorruptDatabaseNeverOverwritten(t *testing.T) {
	db := filepath.Join(t.TempDir(), "spx.db")
	garbage := bytes.Repeat([]byte("not a database "), 1000)
	if err := os.WriteFile(db, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--db", db, "status"},
		{"--db", db, "list"},
		{"--db", db, "config", "set", "thetadata.concurrency", "4"},
	} {
		code, _, stderr := storeRunSPX(t, args...)
		if code != 1 || !strings.Contains(stderr, "is not an spx database or is corrupt") || !strings.Contains(stderr, "move it aside") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if !bytes.Equal(garbage, storeReadFile(t, db)) {
		t.Error("the corrupt file was modified")
	}
}

func TestConfigSetGetPrecedence(t *testing.T) {
	db := filepath.Join(t.TempDir(), "spx.db")
	code, out, stderr := storeRunSPX(t, "--db", db, "config", "set", "processing.roots", "SPX")
	if code != 0 || !strings.Contains(out, "processing.roots = SPX") {
		t.Fatalf("config set: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := storeRunSPX(t, "--db", db, "config", "set", "nats.credentials", "/secret/user.creds"); code != 0 {
		t.Fatalf("config set credentials: %d %q", code, stderr)
	}
	if code, _, stderr := storeRunSPX(t, "--db", db, "config", "set", "thetadata.concurrency", "8"); code != 0 {
		t.Fatalf("config set: %d %q", code, stderr)
	}
	t.Setenv("SPX_THETADATA_CONCURRENCY", "5")
	t.Setenv("SPX_THETADATA_BASE_URL", "http://env:1")

	code, out, stderr = storeRunSPX(t, "--db", db, "--terminal", "http://flag:2", "config", "get", "--format", "json")
	if code != 0 {
		t.Fatalf("config get: %d %q", code, stderr)
	}
	var rows []settingJSON
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("config get json: %v\n%s", err, out)
	}
	got := map[string]settingJSON{}
	for _, r := range rows {
		got[r.Key] = r
	}
	want := map[string][2]string{
		"thetadata.base_url":    {"http://flag:2", "flag"},
		"thetadata.concurrency": {"5", "env"},
		"processing.roots":      {"SPX", "stored"},
		"nats.credentials":      {"****", "stored"},
		"processing.interval":   {"1m", "default"},
		"database.path":         {db, "flag"},
	}
	for k, w := range want {
		if g := got[k]; g.Value != w[0] || g.Source != w[1] {
			t.Errorf("%s = %q from %s, want %q from %s", k, g.Value, g.Source, w[0], w[1])
		}
	}
	if strings.Contains(out, "/secret/") {
		t.Error("config get showed a secret")
	}

	// Table form of one key.
	code, out, _ = storeRunSPX(t, "--db", db, "config", "get", "processing.roots", "--format", "table")
	if code != 0 || !strings.Contains(out, "processing.roots") || !strings.Contains(out, "stored") || strings.Contains(out, "thetadata") {
		t.Errorf("config get KEY table: %d %q", code, out)
	}
}

func TestConfigValidate(t *testing.T) {
	term := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/terminal/mdds/status" {
			fmt.Fprint(w, "CONNECTED")
			return
		}
		http.NotFound(w, r)
	}))
	defer term.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "spx.db")
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))

	code, out, stderr := storeRunSPX(t, "--db", db, "--terminal", term.URL, "--output-dir", filepath.Join(dir, "out"), "config", "validate", "--format", "json")
	if code != 0 {
		t.Fatalf("validate: %d %q %q", code, out, stderr)
	}
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Terminal == nil || rep.Terminal.Generation != "v3" || rep.Terminal.Status != "CONNECTED" {
		t.Errorf("report = %+v", rep)
	}
	if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
		t.Error("validate created the database")
	}

	afile := filepath.Join(dir, "afile")
	if err := os.WriteFile(afile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SPX_THETADATA_CONCURRENCY", "lots")
	code, out, _ = storeRunSPX(t, "--db", db, "--terminal", term.URL, "--output-dir", afile, "config", "validate", "--format", "table")
	if code != 1 {
		t.Errorf("validate with problems: exit %d, want 1", code)
	}
	for _, w := range []string{"processing.output_dir " + afile + " is a file, not a directory", `thetadata.concurrency "lots" (from environment variable SPX_THETADATA_CONCURRENCY)`, "terminal: v3 answered CONNECTED"} {
		if !strings.Contains(out, w) {
			t.Errorf("validate output lacks %q:\n%s", w, out)
		}
	}
}

func TestGapAnalysis(t *testing.T) {
	db := storeSeededDB(t)
	code, out, stderr := storeRunSPX(t, "--db", db, "gap-analysis", "--start-date", "2023-12-28", "--end-date", "2024-01-12", "--format", "json")
	if code != 0 {
		t.Fatalf("gap-analysis: %d %q", code, stderr)
	}
	// 2023-12-30/31 and 2024-01-06/07 are weekends, 2024-01-01 a holiday;
	// 01-02 (success) and 01-03 (no_data) are complete; 01-04 failed and
	// 01-05 partial are gaps, as is every day never processed.
	want := `{"start":"2023-12-28","end":"2024-01-12","gaps":["2023-12-28","2023-12-29","2024-01-04","2024-01-05","2024-01-08","2024-01-09","2024-01-10","2024-01-11","2024-01-12"]}` + "\n"
	if out != want {
		t.Errorf("gap-analysis json =\n%s\nwant\n%s", out, want)
	}

	// No gaps: [] not null.
	code, out, _ = storeRunSPX(t, "--db", db, "gap-analysis", "--start-date", "2024-01-02", "--end-date", "2024-01-03", "--format", "json")
	if code != 0 || out != `{"start":"2024-01-02","end":"2024-01-03","gaps":[]}`+"\n" {
		t.Errorf("no gaps: %d %q", code, out)
	}

	// Table form says why each day is a gap.
	code, out, _ = storeRunSPX(t, "--db", db, "gap-analysis", "--start-date", "2024-01-02", "--end-date", "2024-01-08", "--format", "table")
	for _, w := range []string{"3 gap(s) among 5 sessions", "2024-01-04  Thu      failed", "2024-01-05  Fri      partial", "2024-01-08  Mon      never processed"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}

	// Defaults: start from the stored processing.start_date, end at the
	// last closed session.
	last := calendar.LastClosedSession(time.Now())
	if code, _, stderr := storeRunSPX(t, "--db", db, "config", "set", "processing.start_date", last.AddDays(-6).String()); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr = storeRunSPX(t, "--db", db, "gap-analysis", "--format", "json")
	var rep struct{ Start, End string }
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("default gap-analysis: %d %q %q", code, out, stderr)
	}
	if rep.Start != last.AddDays(-6).String() || rep.End != last.String() {
		t.Errorf("default range = %s..%s, want %s..%s", rep.Start, rep.End, last.AddDays(-6), last)
	}
}

func TestListAndStatus(t *testing.T) {
	db := storeSeededDB(t)
	code, out, stderr := storeRunSPX(t, "--db", db, "list", "--format", "json")
	if code != 0 {
		t.Fatalf("list: %d %q", code, stderr)
	}
	var days []spx.DayRecord
	if err := json.Unmarshal([]byte(out), &days); err != nil {
		t.Fatal(err)
	}
	if len(days) != 4 || days[0].Date != spx.NewDate(2024, 1, 2) || days[0].RecordCount != 1000 || days[2].ErrorMessage == "" {
		t.Errorf("list json = %+v", days)
	}

	code, out, _ = storeRunSPX(t, "--db", db, "list", "--failed-only", "--from", "2024-01-03", "--format", "json")
	if code != 0 || json.Unmarshal([]byte(out), &days) != nil || len(days) != 2 || days[0].Status != spx.DayFailed || days[1].Status != spx.DayPartial {
		t.Errorf("list --failed-only = %d %s", code, out)
	}
	code, out, _ = storeRunSPX(t, "--db", db, "list", "--to", "2024-01-01", "--format", "json")
	if code != 0 || out != "[]\n" {
		t.Errorf("empty list = %d %q, want []", code, out)
	}
	code, out, _ = storeRunSPX(t, "--db", db, "list", "--format", "table")
	for _, w := range []string{"DATE", "2024-01-02  success", "1,000", "2.0 KiB", "2/2", "471 PERMISSION"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("list table lacks %q:\n%s", w, out)
		}
	}

	code, out, stderr = storeRunSPX(t, "--db", db, "status", "--format", "json")
	if code != 0 {
		t.Fatalf("status: %d %q", code, stderr)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.DaysTotal != 4 || rep.Days[spx.DaySuccess] != 1 || rep.Days[spx.DayFailed] != 1 || rep.Rows != 1500 || rep.Bytes != 3072 ||
		rep.Jobs[spx.JobWritten] != 1 || len(rep.RecentErrors) != 1 || rep.Database != db ||
		!rep.LastActivity.Equal(time.Date(2024, 1, 10, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("status = %+v", rep)
	}
	code, out, _ = storeRunSPX(t, "--db", db, "status", "--format", "table")
	for _, w := range []string{"days           4 (2024-01-02 to 2024-01-05): success 1, no_data 1, partial 1, failed 1", "rows           1,500", "recent errors:", "471 PERMISSION"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("status table lacks %q:\n%s", w, out)
		}
	}
}

// TestReadOnlyCommandsWithoutDatabase: a status database that does not
// exist is an error for the commands that read the archive's records
// (never an empty archive where every day is a gap), and creates nothing;
// config get shows the defaults (nothing is stored yet).
func TestReadOnlyCommandsWithoutDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "spx.db")
	for _, args := range [][]string{
		{"--db", db, "status", "--format", "json"},
		{"--db", db, "status", "--calendar", "--format", "json"},
		{"--db", db, "list", "--format", "json"},
		{"--db", db, "gap-analysis", "--start-date", "2024-01-02", "--end-date", "2024-01-03", "--format", "json"},
		{"--db", db, "verify", "--format", "json"},
	} {
		code, stdout, stderr := storeRunSPX(t, args...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "no status database at "+db) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and one line saying there is no database", args, code, stdout, stderr)
		}
	}
	if code, stdout, stderr := storeRunSPX(t, "--db", db, "config", "get", "thetadata.concurrency", "--format", "json"); code != 0 || !strings.Contains(stdout, `"source":"default"`) {
		t.Errorf("config get: exit %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a read-only command created the database")
	}
	// The default location says how to begin.
	t.Chdir(t.TempDir())
	code, _, stderr := storeRunSPX(t, "gap-analysis", "--start-date", "2024-01-02", "--end-date", "2024-01-03")
	if code != 1 || !strings.Contains(stderr, "no status database at ./data/spx.db") || !strings.Contains(stderr, "spx process-gaps") {
		t.Errorf("default database: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat("data"); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a read-only command created ./data")
	}
}

func TestDatabaseDirNotWritable(t *testing.T) {
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// root writes anywhere; a read-only file system still refuses.
		dir = "/sys"
		if f, err := os.CreateTemp(dir, "spx-check-*"); err == nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			t.Skip("no unwritable directory available")
		}
	} else if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "spx.db")
	code, stdout, stderr := storeRunSPX(t, "--db", db, "config", "set", "thetadata.concurrency", "4")
	if code != 2 || stdout != "" || !strings.Contains(stderr, db) || !strings.Contains(stderr, "choose another database.path") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
