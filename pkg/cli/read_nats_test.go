package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
)

// startTestCoordinator runs a coordinator (embedded NATS on a random port,
// no terminal) holding the database at db, and returns its NATS URL.
func startTestCoordinator(t *testing.T, db string) string {
	t.Helper()
	store, err := statusdb.Open(db, statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := config.Default()
	cfg.NATSListen, cfg.NATSMonitor, cfg.NATSStoreDir = "127.0.0.1:0", "", filepath.Join(dir, "nats")
	cfg.OutputDir, cfg.TempDir = filepath.Join(dir, "out"), filepath.Join(dir, "temp")
	cfg.ThetaBaseURL = "http://127.0.0.1:1"
	p, err := pipeline.Start(context.Background(), pipeline.Options{Config: cfg, Coordinator: true, Embedded: true, Store: store})
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(); _ = store.Close() })
	return p.Server.ClientURL()
}

// TestReadCommandsAskTheCoordinatorOfNats: with --nats (or nats.url) the
// read commands show the records of the coordinator there, not of a local
// ./data/spx.db that does not exist; a coordinator that does not answer
// there is an error, never an empty archive read from a local file.
func TestReadCommandsAskTheCoordinatorOfNats(t *testing.T) {
	db := storeSeededDB(t)
	url := startTestCoordinator(t, db)
	t.Chdir(t.TempDir()) // no ./data here

	code, out, stderr := storeRunSPX(t, "gap-analysis", "--nats", url, "--start-date", "2024-01-02", "--end-date", "2024-01-05", "--format", "json")
	if want := `{"start":"2024-01-02","end":"2024-01-05","gaps":["2024-01-04","2024-01-05"]}` + "\n"; code != 0 || out != want {
		t.Errorf("gap-analysis --nats: exit %d, %q (stderr %q); want %q", code, out, stderr, want)
	}
	code, out, stderr = storeRunSPX(t, "status", "--nats", url, "--format", "json")
	var st statusOutput
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status --nats: exit %d, %q, %q", code, out, stderr)
	}
	if st.DaysTotal != 4 || st.Days[spx.DaySuccess] != 1 || st.Database != db || st.NATS != url {
		t.Errorf("status --nats: days %d %v, database %q, nats %q; want the coordinator's 4 days of %s", st.DaysTotal, st.Days, st.Database, st.NATS, db)
	}
	t.Setenv("SPX_NATS_URL", url) // nats.url from the environment asks the same
	code, out, stderr = storeRunSPX(t, "list", "--format", "json")
	var days []spx.DayRecord
	if code != 0 || json.Unmarshal([]byte(out), &days) != nil || len(days) != 4 {
		t.Errorf("list with SPX_NATS_URL: exit %d, %q, %q; want the coordinator's 4 days", code, out, stderr)
	}
	code, out, stderr = storeRunSPX(t, "config", "get", "thetadata.concurrency", "--format", "json")
	if code != 0 || !strings.Contains(out, `"value":"8","source":"stored"`) {
		t.Errorf("config get with SPX_NATS_URL: exit %d, %q, %q; want the coordinator's stored 8", code, out, stderr)
	}
	code, out, stderr = storeRunSPX(t, "status", "--calendar", "--year", "2024", "--format", "json")
	if code != 0 || !strings.Contains(out, `"success":1`) {
		t.Errorf("status --calendar with SPX_NATS_URL: exit %d, %.300q, %q", code, out, stderr)
	}
	if _, err := os.Stat("data"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read command created ./data (%v)", err)
	}

	// Nothing answers at the URL: an error, even with a readable local
	// database beside it.
	t.Setenv("SPX_NATS_URL", "")
	local := storeSeededDB(t)
	for _, args := range [][]string{
		{"gap-analysis", "--start-date", "2024-01-02", "--end-date", "2024-01-05"},
		{"status"},
		{"list", "--db", local},
		{"verify", "--db", local},
		{"config", "get", "--db", local},
	} {
		code, out, stderr := storeRunSPX(t, append(args, "--nats", "nats://127.0.0.1:1", "--format", "json")...)
		if code != 1 || out != "" || !strings.Contains(stderr, "no coordinator answered at nats://127.0.0.1:1") {
			t.Errorf("%v with nothing at --nats: exit %d, stdout %q, stderr %q; want 1 saying no coordinator answered", args, code, out, stderr)
		}
	}
	if _, err := os.Stat("data"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read command created ./data (%v)", err)
	}
}
