package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// storeSim is a universe whose staged objects are ~80 KB each: 12 greeks
// jobs over the two days.
var storeSim = terminalsim.Config{Seed: 7, Concurrency: 4, MaxExpirations: 3, MaxStrikes: 10}

// smallStore runs the embedded server on a simulated disk with free bytes
// free, the store watch and the staging sweep on test timings.
func smallStore(disk *queuetest.Disk, margin int64, writers int) func(*pipeline.Options) {
	return func(o *pipeline.Options) {
		o.Writers = writers
		o.StoreDisk = disk.Space
		o.StoreWatch = queue.StoreWatchConfig{Every: 100 * time.Millisecond, Hold: 500 * time.Millisecond, Margin: margin,
			DiskReserve: 1, LimitReserve: 32 << 10}
		o.StagingSweep, o.OrphanAge = 500*time.Millisecond, 2*time.Second
	}
}

// The NATS store fills up while no writer runs: spx says so (the store
// watch, the control API's status), the fetchers stop taking jobs and the
// jobs in hand wait, so no job uses a second delivery or goes dead. Once
// writers join and make room, everything is written by itself, and no
// staged object or chunk is left in the bucket. Before, a put the full
// store refused was a transient error: the job was handed back (a
// delivery each time) until it went dead, and nothing said the store was
// full.
func TestNATSStoreFullWaitsForWriters(t *testing.T) {
	// About 300 KiB of store limit: three of the twelve objects fit.
	disk := queuetest.NewDisk(400<<10, 1<<30)
	e := start(t, envOptions{api: "v3", sim: storeSim, pipeline: smallStore(disk, 16<<10, 0)})
	trackStore(disk, e)
	ctx := context.Background()
	res, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the store watch says full", func() bool { return e.p.Store.Status().Full })
	// The fetchers keep what they hold and take nothing more.
	time.Sleep(3 * time.Second)
	rep, err := e.client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.NATSStore
	if st == nil || !st.Full || st.Reason == "" || st.StagedLimit == 0 {
		t.Fatalf("status while the store is full: %+v", st)
	}
	t.Logf("full: %s (staged %d of %d)", st.Reason, st.Staged, st.StagedLimit)
	jobs, err := e.store.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	staged := 0
	for _, j := range jobs {
		if j.Attempts > 1 || j.Outcome == spx.JobDead || j.Outcome == spx.JobFailed {
			t.Errorf("%s: %s after %d deliveries (%s): the full store used up deliveries", j.Key, j.Outcome, j.Attempts, j.LastError)
		}
		if j.Outcome == spx.JobStaged {
			staged++
		}
	}
	if staged == 0 || staged == res.Jobs {
		t.Errorf("%d of %d jobs staged while the store was full; want some, not all", staged, res.Jobs)
	}

	// Writers join (another process) and make room.
	startWorkers(t, e, 0, 2)
	for _, p := range e.waitDays(t, days) {
		if p.Day.Status != spx.DaySuccess {
			t.Errorf("%s: %s (%v)", p.Day.Date, p.Day.Status, p.Errors)
		}
	}
	waitUntil(t, 10*time.Second, "the store has room again", func() bool { return !e.p.Store.Status().Full })
	checkStagingEmpty(t, e)
}

// The store is too small to stage anything from the start, and stays so
// until its disk has more room: no job is taken meanwhile, the status says
// why, and once the disk is grown the store's limit is raised (a limit
// fixed at start made freeing space useless) and the days are written by
// themselves.
func TestNATSStoreResumesWhenTheDiskGrows(t *testing.T) {
	disk := queuetest.NewDisk(80<<10, 1<<30)
	e := start(t, envOptions{api: "v3", sim: storeSim, pipeline: smallStore(disk, 100<<10, 2)})
	trackStore(disk, e)
	ctx := context.Background()
	res, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	st := e.p.Store.Status()
	if !st.Full || !strings.Contains(st.Reason, "NATS store") && !strings.Contains(st.Reason, "nats.store_dir") {
		t.Fatalf("store on a nearly full disk: %+v", st)
	}
	depth, err := queue.Depth(ctx, e.p.JS)
	if err != nil {
		t.Fatal(err)
	}
	if depth[0].InFlight != 0 || depth[0].Pending == 0 {
		t.Errorf("fetch stage while the store is full: %+v; want every job waiting, none taken", depth[0])
	}
	before, err := e.p.Server.StoreSpace()
	if err != nil {
		t.Fatal(err)
	}

	disk.SetFree(64 << 20)
	for _, p := range e.waitDays(t, days) {
		if p.Day.Status != spx.DaySuccess {
			t.Errorf("%s: %s (%v)", p.Day.Date, p.Day.Status, p.Errors)
		}
	}
	after, err := e.p.Server.StoreSpace()
	if err != nil {
		t.Fatal(err)
	}
	if after.Limit <= before.Limit {
		t.Errorf("store limit %d after the disk grew, %d before: not raised", after.Limit, before.Limit)
	}
	jobs, err := e.store.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != res.Jobs {
		t.Errorf("%d jobs recorded, %d enqueued", len(jobs), res.Jobs)
	}
	for _, j := range jobs {
		if j.Attempts > 1 {
			t.Errorf("%s: %d deliveries", j.Key, j.Attempts)
		}
	}
	checkStagingEmpty(t, e)
}

// trackStore makes e's NATS store use up the room of disk.
func trackStore(disk *queuetest.Disk, e *env) {
	disk.Track(func() int64 {
		info, err := e.p.Server.NATS().Jsz(nil)
		if err != nil {
			return 0
		}
		return int64(info.Store)
	})
}

// checkStagingEmpty waits until the staging bucket holds no object, no
// chunk and no deletion marker: nothing of a finished run lingers until the
// bucket's TTL.
func checkStagingEmpty(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	store, err := e.p.JS.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.p.JS.Stream(ctx, queue.StagingStream)
	if err != nil {
		t.Fatal(err)
	}
	var objects int
	var chunks map[string]uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		objs, err := store.List(ctx)
		if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter("$O."+queue.Bucket+".C.>"))
		if err != nil {
			t.Fatal(err)
		}
		objects, chunks = len(objs), info.State.Subjects
		if objects == 0 && len(chunks) == 0 && info.State.Msgs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the run the staging bucket still holds %d objects, chunks of %d puts, %d messages in all (%d bytes)",
				objects, len(chunks), info.State.Msgs, info.State.Bytes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startWorkers starts fetchers and writers in a pipeline of their own (as
// another process would) on e's NATS server.
func startWorkers(t *testing.T, e *env, fetchers, writers int) *pipeline.Pipeline {
	t.Helper()
	cfg := e.cfg
	cfg.NATSURL = e.p.Server.ClientURL()
	p, err := pipeline.Start(context.Background(), pipeline.Options{Config: cfg, Fetchers: fetchers, Writers: writers,
		FetchRetries: 1, RetryBase: 10 * time.Millisecond, Policy: queue.Policy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		InProgressEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return p
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not in %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
