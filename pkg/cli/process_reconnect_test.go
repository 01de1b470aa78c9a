package cli

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// TestProcessFollowsThroughACoordinatorRestart: spx process following its
// day through a running coordinator keeps following when the coordinator
// (and its embedded NATS server) restarts mid-day on the same address, and
// reports the day done, instead of exiting 1 with "connection closed".
func TestProcessFollowsThroughACoordinatorRestart(t *testing.T) {
	t.Setenv("SPX_TEST_ACK_WAIT", "2s")
	t.Setenv("SPX_TEST_IN_PROGRESS", "300ms")
	sim := terminalsim.New(terminalsim.Config{Seed: 7, Concurrency: 2, MaxExpirations: 3, MaxStrikes: 3,
		Latency: terminalsim.Latency{FirstByte: 400 * time.Millisecond}})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	dir := t.TempDir()
	t.Chdir(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db := filepath.Join(dir, "spx.db")
	store, err := statusdb.Open(db, statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := config.Default()
	cfg.NATSListen, cfg.NATSMonitor, cfg.NATSStoreDir = addr, "", filepath.Join(dir, "nats")
	cfg.OutputDir, cfg.TempDir = filepath.Join(dir, "out"), filepath.Join(dir, "temp")
	cfg.ThetaBaseURL, cfg.ThetaAPI, cfg.Concurrency = v3, "v3", 2
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := func() *pipeline.Pipeline {
		t.Helper()
		p, err := pipeline.Start(ctx, pipeline.Options{Config: cfg, Coordinator: true, Embedded: true, Fetchers: 2, Writers: 1,
			Store: store, Topology: topology(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := start()

	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"process", "2024-03-14", "--nats", "nats://" + addr, "--db", db}, &out, &errb)
	}()
	for !strings.Contains(errb.String(), "queued ") {
		select {
		case code := <-done:
			t.Fatalf("process exited %d before the restart:\n%s\n%s", code, out.String(), errb.String())
		case <-ctx.Done():
			t.Fatalf("process queued nothing:\n%s", errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Restart the coordinator (a service restart: the jobs in hand are
	// finished or handed back), on the same address, a moment later.
	if err := p.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	p = start()
	defer p.Stop()

	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "2024-03-14  success") {
			t.Fatalf("process after the restart: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		}
	case <-ctx.Done():
		t.Fatalf("process did not finish:\n%s", errb.String())
	}
}

// TestFollowGivesUpOnALostCoordinator: follow waits for a coordinator that
// does not answer, saying so once, and gives up after followLostFor with
// what to do; an answer that is an error is not waited on.
func TestFollowGivesUpOnALostCoordinator(t *testing.T) {
	_, nc, _ := queuetest.Start(t) // NATS, no coordinator
	defer func(d time.Duration) { followLostFor = d }(followLostFor)
	followLostFor = 1500 * time.Millisecond
	var w bytes.Buffer
	start := time.Now()
	_, err := follow(t.Context(), coordinator.NewClient(nc), []spx.Date{spx.NewDate(2024, 3, 14)}, &w, false)
	if err == nil || !strings.Contains(err.Error(), "has not answered for 1.5s") || !strings.Contains(err.Error(), "spx status") {
		t.Errorf("follow without a coordinator: %v", err)
	}
	if took := time.Since(start); took < followLostFor || took > followLostFor+5*time.Second {
		t.Errorf("gave up after %s, want about %s", took, followLostFor)
	}
	if n := strings.Count(w.String(), "the coordinator does not answer"); n != 1 {
		t.Errorf("said %d times that the coordinator does not answer:\n%s", n, w.String())
	}
}
