package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

func testKey(t *testing.T) spx.JobKey {
	t.Helper()
	k, err := spx.ParseJobKey("greeks.SPXW.20240102.20240105")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPrometheusText(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	c := NewCollector(nil, func() time.Time { return now })
	key := queue.KeyToProto(testKey(t))
	for _, ev := range []*spxv1.Event{
		{Kind: spxv1.EventKind_EVENT_KIND_STAGED, Key: key, Stage: "fetch", Host: "a", LatencyMs: 300},
		{Kind: spxv1.EventKind_EVENT_KIND_EMPTY, Key: key, Stage: "fetch", Host: "b", LatencyMs: 7000},
		{Kind: spxv1.EventKind_EVENT_KIND_FAILED, Key: key, Stage: "fetch", Host: "b", ErrorClass: "transient"},
		{Kind: spxv1.EventKind_EVENT_KIND_WRITTEN, Key: key, Stage: "write", Host: "a", Rows: 1000, Bytes: 5000},
		{Kind: spxv1.EventKind_EVENT_KIND_WRITTEN, Key: key, Stage: "write", Host: "a", Rows: 200, Bytes: 700},
	} {
		c.Observe(ev)
	}
	c.Heard(Announcement{Name: "c-fetch-9", Host: "c", Role: "fetch", Workers: 4})
	var buf bytes.Buffer
	c.WriteText(&buf, []queue.StageDepth{{Stage: "fetch", Pending: 7, InFlight: 4, Dead: 1}, {Stage: "write", Pending: 2}}, nil)
	out := buf.String()
	for _, want := range []string{
		`spx_jobs_total{outcome="written"} 2`,
		`spx_jobs_total{outcome="staged"} 1`,
		`spx_rows_written_total 1200`,
		`spx_bytes_written_total 5700`,
		`spx_errors_total{class="transient",stage="fetch"} 1`,
		`spx_terminal_latency_seconds_bucket{le="0.5"} 1`,
		`spx_terminal_latency_seconds_bucket{le="5"} 1`,
		`spx_terminal_latency_seconds_bucket{le="10"} 2`,
		`spx_terminal_latency_seconds_bucket{le="+Inf"} 2`,
		`spx_terminal_latency_seconds_sum 7.3`,
		`spx_terminal_latency_seconds_count 2`,
		`spx_queue_depth_up 1`,
		`spx_queue_pending{stage="fetch"} 7`,
		`spx_queue_in_flight{stage="fetch"} 4`,
		`spx_queue_dead{stage="fetch"} 1`,
		`spx_workers_connected{role="fetch"} 3`,
		`spx_workers_connected{role="write"} 1`,
		`spx_worker_jobs_done_total{name="a-write",host="a",role="write"} 2`,
		`spx_worker_jobs_done_total{name="c-fetch-9",host="c",role="fetch"} 0`,
		"# TYPE spx_terminal_latency_seconds histogram",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// Every non-comment line is "name{labels} value".
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "#") && len(strings.Fields(l)) != 2 {
			t.Errorf("malformed sample line %q", l)
		}
	}
	buf.Reset()
	c.WriteText(&buf, nil, errors.New("no JetStream"))
	if !strings.Contains(buf.String(), "spx_queue_depth_up 0\n") {
		t.Error("a failed depth read is not reported as spx_queue_depth_up 0")
	}
}

func TestWorkersConnectedAndGone(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	c := NewCollector(nil, func() time.Time { return now })
	c.Heard(Announcement{Name: "h1-fetch-1", Host: "h1", Role: "fetch", Workers: 2})
	c.Heard(Announcement{Name: "h2-write-1", Host: "h2", Role: "write", Workers: 2})
	now = now.Add(10 * time.Second)
	c.Heard(Announcement{Name: "h2-write-1", Host: "h2", Role: "write", Workers: 2})
	now = now.Add(10 * time.Second) // h1 silent for 20s > 3 heartbeats
	ws := c.Workers()
	if len(ws) != 2 || ws[0].Host != "h1" || ws[0].Connected || ws[1].Host != "h2" || !ws[1].Connected {
		t.Fatalf("workers = %+v, want h1 gone quiet, h2 connected", ws)
	}
	now = now.Add(time.Hour)
	if ws := c.Workers(); len(ws) != 0 {
		t.Fatalf("workers after an hour of silence = %+v, want none", ws)
	}
}

// TestTwoWorkersOnOneHost: two writer processes on one host are two rows,
// each with its own jobs (the events carry the process id), not one row
// per host and role hiding the second.
func TestTwoWorkersOnOneHost(t *testing.T) {
	now := time.Date(2024, 1, 2, 15, 0, 0, 0, time.UTC)
	c := NewCollector(nil, func() time.Time { return now })
	for _, pid := range []int{101, 102} {
		c.Heard(Announcement{Name: WorkerName("h", "write", pid), Host: "h", Role: "write", Workers: 1, PID: pid})
	}
	key := queue.KeyToProto(testKey(t))
	for _, pid := range []int32{101, 101, 102} {
		c.Observe(&spxv1.Event{Kind: spxv1.EventKind_EVENT_KIND_WRITTEN, Key: key, Stage: "write", Host: "h", Pid: pid, Rows: 10})
	}
	ws := c.Workers()
	if len(ws) != 2 || ws[0].Name != "h-write-101" || ws[0].JobsDone != 2 || ws[1].Name != "h-write-102" || ws[1].JobsDone != 1 {
		t.Fatalf("workers = %+v, want h-write-101 with 2 jobs and h-write-102 with 1", ws)
	}
	var buf bytes.Buffer
	c.WriteText(&buf, nil, nil)
	if !strings.Contains(buf.String(), `spx_workers_connected{role="write"} 2`) {
		t.Errorf("/metrics counts the two writers as:\n%s", buf.String())
	}
}

// TestOverNATS runs a heartbeat and a collector against an embedded server:
// the collector learns the worker, counts published events, answers a
// stats request and serves /metrics with the live queue depth.
func TestOverNATS(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	c := NewCollector(nil, nil)
	stop, err := c.Listen(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	if _, err := RequestStats(ctx, nc); err != nil {
		t.Fatalf("stats before any worker: %v", err)
	}
	hbCtx, hbCancel := context.WithCancel(ctx)
	defer hbCancel()
	go NewHeartbeat(nc, "worker.host", 3, 0, 50*time.Millisecond, nil).Run(hbCtx)

	ev := &spxv1.Event{Kind: spxv1.EventKind_EVENT_KIND_WRITTEN, Key: queue.KeyToProto(testKey(t)), Stage: "write", Host: "worker.host", Rows: 42, Bytes: 99}
	b, _ := proto.Marshal(ev)
	if err := nc.Publish(queue.EventSubject(testKey(t)), b); err != nil {
		t.Fatal(err)
	}
	var st Stats
	for {
		if st, err = RequestStats(ctx, nc); err != nil {
			t.Fatal(err)
		}
		if len(st.Workers) == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("workers never showed up: %+v", st)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if w := st.Workers[0]; w.Role != "fetch" || w.Host != "worker.host" || w.Workers != 3 || !w.Connected || !strings.HasPrefix(w.Name, "worker_host-fetch-") {
		t.Errorf("fetch worker = %+v", w)
	}
	if w := st.Workers[1]; w.Role != "write" || w.JobsDone != 1 {
		t.Errorf("write worker = %+v", w)
	}
	if st.Throughput.RowsPerSec <= 0 {
		t.Errorf("throughput = %+v, want rows", st.Throughput)
	}

	srv := httptest.NewServer(c.Handler(JetStreamDepth(js)))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"spx_queue_depth_up 1\n", `spx_queue_pending{stage="write"} 0` + "\n", "spx_rows_written_total 42\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestRequestStatsWithoutCollector(t *testing.T) {
	_, nc, _ := queuetest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := RequestStats(ctx, nc); !errors.Is(err, ErrNoCollector) {
		t.Fatalf("err = %v, want ErrNoCollector", err)
	}
}

func TestTerminalGauges(t *testing.T) {
	c := NewCollector(nil, nil)
	var buf bytes.Buffer
	c.WriteText(&buf, nil, nil)
	if strings.Contains(buf.String(), "spx_terminal_up") {
		t.Error("terminal gauges without a terminal watched")
	}
	st := spx.TerminalStatus{State: spx.TerminalDisconnected, Since: time.Unix(1700000000, 0)}
	c.WatchTerminal(func() *spx.TerminalStatus { return &st })
	for _, tt := range []struct {
		state string
		want  []string
	}{
		{spx.TerminalDisconnected, []string{"spx_terminal_up 0", `spx_terminal_state{state="disconnected"} 1`, `spx_terminal_state{state="up"} 0`,
			"spx_terminal_state_since_timestamp_seconds 1.7e+09"}},
		{spx.TerminalUp, []string{"spx_terminal_up 1", `spx_terminal_state{state="up"} 1`, `spx_terminal_state{state="down"} 0`}},
	} {
		st.State = tt.state
		buf.Reset()
		c.WriteText(&buf, nil, nil)
		for _, w := range tt.want {
			if !strings.Contains(buf.String(), w+"\n") {
				t.Errorf("%s: no %q in\n%s", tt.state, w, buf.String())
			}
		}
	}
}

// /metrics says when the NATS store is full (fetching paused) and how much
// room staging has.
func TestNATSStoreGauges(t *testing.T) {
	c := NewCollector(nil, nil)
	var buf bytes.Buffer
	c.WriteText(&buf, nil, nil)
	if strings.Contains(buf.String(), "spx_nats_store_full") {
		t.Error("store gauges without a store watched")
	}
	st := spx.NATSStore{Full: true, Since: time.Unix(1700000000, 0), Reason: "only 1.0 MiB free on the disk of nats.store_dir",
		Staged: 12 << 20, StagedLimit: 12 << 20, Used: 13 << 20, Limit: 15 << 20, DiskFree: 1 << 20}
	c.WatchNATSStore(func() *spx.NATSStore { return &st })
	c.WriteText(&buf, nil, nil)
	for _, w := range []string{"spx_nats_store_full 1", "spx_nats_store_state_since_timestamp_seconds 1.7e+09", "spx_nats_staged_bytes 12582912",
		"spx_nats_staged_limit_bytes 12582912", "spx_nats_store_limit_bytes 15728640", "spx_nats_store_disk_free_bytes 1048576"} {
		if !strings.Contains(buf.String(), w+"\n") {
			t.Errorf("no %q in\n%s", w, buf.String())
		}
	}
	st.Full = false
	buf.Reset()
	c.WriteText(&buf, nil, nil)
	if !strings.Contains(buf.String(), "spx_nats_store_full 0\n") {
		t.Errorf("store with room: %s", buf.String())
	}
}
