package statusdb

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spx-archive/spx/pkg/spx"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spx.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func key(ds spx.Dataset, root string, date, exp spx.Date) spx.JobKey {
	return spx.JobKey{Dataset: ds, Root: root, Date: date, Expiration: exp}
}

var (
	d0102 = spx.NewDate(2024, 1, 2)
	d0103 = spx.NewDate(2024, 1, 3)
	d0104 = spx.NewDate(2024, 1, 4)
	d0105 = spx.NewDate(2024, 1, 5)
)

func TestOpenCreatesFilePrivate(t *testing.T) {
	s, path := openTemp(t)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, want 0600", info.Mode().Perm())
	}
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v != SchemaVersion {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, SchemaVersion)
	}
}

func TestJobs(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	recs := []spx.JobRecord{
		{Key: key(spx.Greeks, "SPXW", d0103, d0105), Outcome: spx.JobQueued},
		{Key: key(spx.Greeks, "SPXW", d0102, d0102), Outcome: spx.JobWritten, Rows: 10},
		{Key: key(spx.Greeks, "SPX", d0102, d0105), Outcome: spx.JobFailed},
		{Key: key(spx.Quote, "SPXW", d0102, d0102), Outcome: spx.JobEmpty},
		{Key: key(spx.Greeks, "SPXW", d0104, d0105), Outcome: spx.JobDead},
	}
	if err := s.PutJobs(ctx, recs); err != nil {
		t.Fatal(err)
	}

	got, ok, err := s.Job(ctx, recs[1].Key)
	if err != nil || !ok || got.Rows != 10 || got.Outcome != spx.JobWritten {
		t.Fatalf("Job = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := s.Job(ctx, key(spx.EOD, "SPX", d0102, d0102)); ok {
		t.Error("Job of a missing key reported ok")
	}

	keys := func(rs []spx.JobRecord) string {
		var ss []string
		for _, r := range rs {
			ss = append(ss, r.Key.String())
		}
		return strings.Join(ss, " ")
	}
	tests := []struct {
		name string
		f    spx.JobFilter
		want string
	}{
		{"all", spx.JobFilter{}, "greeks.SPX.20240102.20240105 greeks.SPXW.20240102.20240102 greeks.SPXW.20240103.20240105 greeks.SPXW.20240104.20240105 quote.SPXW.20240102.20240102"},
		{"dataset", spx.JobFilter{Dataset: spx.Quote}, "quote.SPXW.20240102.20240102"},
		{"from-to", spx.JobFilter{From: d0103, To: d0103}, "greeks.SPXW.20240103.20240105"},
		{"outcomes", spx.JobFilter{Outcomes: []spx.JobOutcome{spx.JobFailed, spx.JobDead}}, "greeks.SPX.20240102.20240105 greeks.SPXW.20240104.20240105"},
		{"limit", spx.JobFilter{Limit: 2}, "greeks.SPX.20240102.20240105 greeks.SPXW.20240102.20240102"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := s.Jobs(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if g := keys(rs); g != tt.want {
				t.Errorf("Jobs = %s\nwant   %s", g, tt.want)
			}
		})
	}

	rs, err := s.JobsForDate(ctx, d0102)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := keys(rs), "greeks.SPX.20240102.20240105 greeks.SPXW.20240102.20240102 quote.SPXW.20240102.20240102"; g != want {
		t.Errorf("JobsForDate = %s, want %s", g, want)
	}
}

func TestUpdateJob(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	k := key(spx.Greeks, "SPXW", d0102, d0105)

	rec, err := s.UpdateJob(ctx, k, func(r *spx.JobRecord) error {
		if r.Key != k || r.Outcome != "" {
			t.Errorf("new record = %+v, want zero with key", r)
		}
		r.Outcome = spx.JobQueued
		r.Attempts++
		return nil
	})
	if err != nil || rec.Outcome != spx.JobQueued || rec.Attempts != 1 {
		t.Fatalf("UpdateJob = %+v, %v", rec, err)
	}
	// An error from fn aborts the change.
	boom := errors.New("boom")
	if _, err := s.UpdateJob(ctx, k, func(r *spx.JobRecord) error { r.Attempts = 99; return boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateJob error = %v, want boom", err)
	}
	got, _, _ := s.Job(ctx, k)
	if got.Attempts != 1 {
		t.Errorf("aborted update was stored: attempts = %d", got.Attempts)
	}
	if rs, _ := s.JobsForDate(ctx, d0102); len(rs) != 1 {
		t.Errorf("JobsForDate after UpdateJob = %d records, want 1", len(rs))
	}
	if _, err := s.UpdateJob(ctx, spx.JobKey{Dataset: spx.Greeks}, func(*spx.JobRecord) error { return nil }); err == nil {
		t.Error("UpdateJob with an incomplete key succeeded")
	}
}

func TestDays(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	start := time.Date(2024, 1, 2, 21, 0, 0, 0, time.UTC)
	full := spx.DayRecord{
		Date: d0102, Status: spx.DaySuccess, StartedAt: start, CompletedAt: start.Add(time.Minute),
		RecordCount: 12345, FileSizeBytes: 678, Checksum: "abc", ErrorMessage: "", RetryCount: 2,
		ProcessingDurationMs: 60000, JobsTotal: 4, JobsDone: 4,
	}
	if err := s.PutDay(ctx, full); err != nil {
		t.Fatal(err)
	}
	for _, d := range []spx.Date{d0104, d0103} {
		if _, err := s.UpdateDay(ctx, d, func(r *spx.DayRecord) error { r.Status = spx.DayFailed; r.ErrorMessage = "x"; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.Day(ctx, d0102)
	if err != nil || !ok {
		t.Fatalf("Day: %v %v", ok, err)
	}
	if !got.StartedAt.Equal(full.StartedAt) || !got.CompletedAt.Equal(full.CompletedAt) {
		t.Errorf("times changed: %+v", got)
	}
	got.StartedAt, got.CompletedAt = full.StartedAt, full.CompletedAt
	if got != full {
		t.Errorf("Day = %+v\nwant  %+v", got, full)
	}

	tests := []struct {
		from, to spx.Date
		want     []spx.Date
	}{
		{0, 0, []spx.Date{d0102, d0103, d0104}},
		{d0103, 0, []spx.Date{d0103, d0104}},
		{0, d0103, []spx.Date{d0102, d0103}},
		{d0103, d0103, []spx.Date{d0103}},
		{d0105, 0, nil},
	}
	for _, tt := range tests {
		rs, err := s.Days(ctx, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		var dates []spx.Date
		for _, r := range rs {
			dates = append(dates, r.Date)
		}
		if len(dates) != len(tt.want) || (len(dates) > 0 && !equalDates(dates, tt.want)) {
			t.Errorf("Days(%v, %v) = %v, want %v", tt.from, tt.to, dates, tt.want)
		}
	}
}

func equalDates(a, b []spx.Date) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestErrorsNewestFirst(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	t0 := time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)
	// Two entries share a timestamp: the sequence keeps both, in order.
	for i, tm := range []time.Time{t0, t0.Add(time.Second), t0.Add(time.Second), t0.Add(-time.Hour)} {
		if err := s.AppendError(ctx, spx.ErrorEntry{Time: tm, Type: "transient", Message: "m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Errors(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range all {
		msgs = append(msgs, e.Message)
	}
	if g, want := strings.Join(msgs, ","), "m2,m1,m0,m3"; g != want {
		t.Errorf("Errors = %s, want %s", g, want)
	}
	two, _ := s.Errors(ctx, 2)
	if len(two) != 2 || two[0].Message != "m2" {
		t.Errorf("Errors(2) = %+v", two)
	}
}

func TestConfig(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if _, ok, _ := s.Config(ctx, "thetadata.concurrency"); ok {
		t.Fatal("unset key reported ok")
	}
	if err := s.SetConfig(ctx, "thetadata.concurrency", "8"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(ctx, "processing.roots", "SPXW"); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.Config(ctx, "thetadata.concurrency"); !ok || v != "8" {
		t.Errorf("Config = %q %v", v, ok)
	}
	all, _ := s.AllConfig(ctx)
	if len(all) != 2 || all["processing.roots"] != "SPXW" {
		t.Errorf("AllConfig = %v", all)
	}
	if err := s.DeleteConfig(ctx, "processing.roots"); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.AllConfig(ctx); len(all) != 1 {
		t.Errorf("AllConfig after delete = %v", all)
	}
}

func TestSecondOpenFailsFastNamingFile(t *testing.T) {
	_, path := openTemp(t)
	for _, ro := range []bool{false, true} {
		start := time.Now()
		s2, err := Open(path, Options{ReadOnly: ro})
		took := time.Since(start)
		if err == nil {
			_ = s2.Close()
			t.Fatalf("second Open (readOnly=%v) succeeded", ro)
		}
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another spx process") {
			t.Errorf("error = %v; want ErrLocked naming %s", err, path)
		}
		if took > 3*time.Second {
			t.Errorf("second Open took %v, want < 3s", took)
		}
	}
}

func TestReadOnlySharesWithReadOnly(t *testing.T) {
	_, path := openTemp(t)
	// Release the writer so two readers can share the file.
	dir := filepath.Dir(path)
	path2 := filepath.Join(dir, "b.db")
	s, err := Open(path2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	r1, err := Open(path2, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path2, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("second read-only Open: %v", err)
	}
	defer r2.Close()
	if v, ok, _ := r2.Config(context.Background(), "k"); !ok || v != "v" {
		t.Errorf("read-only Config = %q %v", v, ok)
	}
	if err := r2.SetConfig(context.Background(), "k", "w"); err == nil {
		t.Error("SetConfig on a read-only store succeeded")
	}
}

func TestCorruptFileNeverOverwritten(t *testing.T) {
	tests := map[string][]byte{
		"short garbage": []byte("hello, this is not a database\n"),
		"page garbage":  bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096),
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spx.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				s, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					_ = s.Close()
					t.Fatalf("Open of garbage (readOnly=%v) succeeded", ro)
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it aside") {
					t.Errorf("error = %v; want ErrCorrupt naming the file and saying what to do", err)
				}
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, content) {
				t.Error("the file was modified")
			}
		})
	}
}

func TestForeignBoltFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
	_ = db.Close()
	before, _ := os.ReadFile(path)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of another program's bbolt file = %v, want ErrCorrupt", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("the file was modified")
	}
}

func TestMigrateVersionZero(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	// A version-0 file: a bbolt file with only some of the buckets and no meta.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketConfig)
		if err != nil {
			return err
		}
		return b.Put([]byte("processing.roots"), []byte("SPX"))
	})
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}

	// Read-only: readable, not migrated.
	r, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of v0: %v", err)
	}
	if v, _ := r.SchemaVersion(ctx); v != 0 {
		t.Errorf("read-only open migrated the file to %d", v)
	}
	if days, err := r.Days(ctx, 0, 0); err != nil || len(days) != 0 {
		t.Errorf("Days on v0 = %v, %v", days, err)
	}
	_ = r.Close()

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of v0: %v", err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != SchemaVersion {
		t.Errorf("schema version after migration = %d, want %d", v, SchemaVersion)
	}
	if v, ok, _ := s.Config(ctx, "processing.roots"); !ok || v != "SPX" {
		t.Errorf("migration lost data: %q %v", v, ok)
	}
	if err := s.PutDay(ctx, spx.DayRecord{Date: d0102, Status: spx.DaySuccess}); err != nil {
		t.Errorf("PutDay after migration: %v", err)
	}
	if err := s.PutJobs(ctx, []spx.JobRecord{{Key: key(spx.Greeks, "SPX", d0102, d0105)}}); err != nil {
		t.Errorf("PutJobs after migration: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion+1)))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	for _, ro := range []bool{false, true} {
		_, err := Open(path, Options{ReadOnly: ro})
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "written by a newer spx") || !strings.Contains(err.Error(), "upgrade") || !strings.Contains(err.Error(), path) {
			t.Errorf("Open (readOnly=%v) = %v; want ErrNewerSchema saying upgrade", ro, err)
		}
	}
}

func TestOpenPathErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		opts       Options
		want       error
		wantText   string
	}{
		{"missing dir", filepath.Join(dir, "nope", "spx.db"), Options{}, ErrPath, "does not exist"},
		{"parent is a file", filepath.Join(file, "spx.db"), Options{}, ErrPath, "is not a directory"},
		{"path is a dir", dir, Options{}, ErrPath, "is a directory"},
		{"read-only missing file", filepath.Join(dir, "missing.db"), Options{ReadOnly: true}, fs.ErrNotExist, "missing.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, tt.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %v; want %v containing %q", err, tt.want, tt.wantText)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a missing directory was created without CreateDir")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a read-only open created the file")
	}
}

func TestCreateDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "spx.db")
	s, err := Open(path, Options{CreateDir: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	info, err := os.Stat(filepath.Dir(path))
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("created dir: %v, %v; want 0700", info.Mode().Perm(), err)
	}
}

func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spx.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-only: an uninitialised file reads as "no database yet".
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open of an empty file = %v, want fs.ErrNotExist", err)
	}
	// For writing it is initialised.
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(context.Background()); v != SchemaVersion {
		t.Errorf("schema version = %d", v)
	}
}
