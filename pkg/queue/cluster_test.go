package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// freePorts reserves n loopback ports: cluster routes must be known before
// the nodes start.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startCluster starts three clustered embedded servers with JetStream and
// waits until JetStream answers through each of them.
func startCluster(t *testing.T) []*queue.Server {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	var nodes []*queue.Server
	for i, p := range ports {
		srv, err := queue.StartServer(queue.ServerOptions{
			Name: fmt.Sprintf("n%d", i+1), Listen: "127.0.0.1:0", StoreDir: t.TempDir(),
			Cluster: &queue.ClusterOptions{Name: "spx-test", Listen: fmt.Sprintf("127.0.0.1:%d", p), Routes: routes},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		nodes = append(nodes, srv)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, n := range nodes {
		nc, err := nats.Connect(n.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		for {
			actx, acancel := context.WithTimeout(ctx, time.Second)
			_, err = js.AccountInfo(actx)
			acancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("JetStream cluster not ready on %s: %v", n.ClientURL(), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		nc.Close()
	}
	return nodes
}

// TestClusterSurvivesLosingANode runs the pipeline against a three-node
// cluster with every stream R3, shuts one node down once the first file is
// written, and checks the run still completes with every job written or
// empty. By default the node shut down is a replica that is neither the
// pipeline's connection nor the staging store's leader; with
// SPX_CLUSTER_TEST=1 it is the node the pipeline is connected to, which
// today can leave a fetcher or writer stuck on an object-store call (see
// docs/multi-machine.md, known issues).
func TestClusterSurvivesLosingANode(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped with -short")
	}
	t.Run("replica", func(t *testing.T) { testClusterLosesNode(t, false) })
	t.Run("connected", func(t *testing.T) {
		if os.Getenv("SPX_CLUSTER_TEST") == "" {
			t.Skip("set SPX_CLUSTER_TEST=1 to shut down the node the pipeline is connected to")
		}
		testClusterLosesNode(t, true)
	})
}

func testClusterLosesNode(t *testing.T, connected bool) {
	nodes := startCluster(t)
	sim := terminalsim.New(terminalsim.Config{Seed: 5, Concurrency: 2, MaxExpirations: 3, MaxStrikes: 3,
		Faults: terminalsim.Faults{Latency: 150 * time.Millisecond}})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	dir := t.TempDir()
	store, err := statusdb.Open(filepath.Join(dir, "spx.db"), statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.ClientURL())
	}
	cfg := config.Default()
	cfg.ThetaAPI, cfg.ThetaBaseURL, cfg.Concurrency = "v3", v3, 2
	cfg.Interval = 5 * time.Minute
	cfg.OutputDir, cfg.TempDir = filepath.Join(dir, "parquet"), filepath.Join(dir, "temp")
	cfg.NATSURL = strings.Join(urls, ",")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	var logger *slog.Logger
	if os.Getenv("SPX_CLUSTER_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := pipeline.Start(ctx, pipeline.Options{Logger: logger, Config: cfg, Coordinator: true, Fetchers: 2, Writers: 2, Store: store,
		Topology:     queue.Topology{Replicas: 3, FetchAckWait: 5 * time.Second, WriteAckWait: 5 * time.Second},
		FetchRetries: 2, RetryBase: 20 * time.Millisecond, Policy: queue.Policy{Base: 100 * time.Millisecond, Max: 500 * time.Millisecond},
		InProgressEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	for _, s := range []string{queue.StreamFetch, queue.StreamWrite, queue.StreamEvents} {
		st, err := p.JS.Stream(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Fatalf("%s has %d replicas, want 3", s, r)
		}
	}

	dates := []spx.Date{spx.NewDate(2024, time.March, 13), spx.NewDate(2024, time.March, 14)}
	client := p.Client()
	res, err := client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: dates})
	if err != nil || res.Jobs == 0 {
		t.Fatalf("enqueue: %+v, %v", res, err)
	}
	killed := false
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		prog, err := client.Progress(pctx, dates)
		pcancel()
		if err != nil {
			t.Logf("progress: %v", err)
			if ctx.Err() != nil {
				t.Fatalf("progress: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // the connection may be moving to another node
			continue
		}
		done, finished := 0, true
		for _, d := range prog {
			done += d.Done
			finished = finished && d.Finished
		}
		if !killed && done > 0 {
			if finished {
				t.Fatal("the run finished before a node could be stopped: make it longer")
			}
			victim := pickVictim(ctx, t, nodes, p.NC, p.JS, connected)
			t.Logf("stopping %s after %d of %d jobs", victim.ClientURL(), done, res.Jobs)
			victim.Shutdown()
			killed = true
		}
		if finished {
			for _, d := range prog {
				if d.Day.Status != spx.DaySuccess || d.Failed > 0 {
					t.Errorf("day %s: %+v", d.Day.Date, d)
				}
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("run did not finish after losing a node: %+v", prog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	jobs, err := store.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for _, j := range jobs {
		switch j.Outcome {
		case spx.JobWritten:
			written++
			if _, err := os.Stat(filepath.Join(cfg.OutputDir, j.Key.RelPath())); err != nil {
				t.Errorf("%s: %v", j.Key, err)
			}
		case spx.JobEmpty:
		default:
			t.Errorf("job %s ended %s", j.Key, j.Outcome)
		}
	}
	if len(jobs) != res.Jobs || written == 0 {
		t.Errorf("%d job records (%d written), %d jobs queued", len(jobs), written, res.Jobs)
	}
}

// pickVictim returns the node the connection uses (connected), or one that
// is neither that node nor the staging object store's stream leader.
func pickVictim(ctx context.Context, t *testing.T, nodes []*queue.Server, nc *nats.Conn, js jetstream.JetStream, connected bool) *queue.Server {
	t.Helper()
	leader := ""
	if st, err := js.Stream(ctx, "OBJ_"+queue.Bucket); err == nil && st.CachedInfo().Cluster != nil {
		leader = st.CachedInfo().Cluster.Leader
	}
	for _, n := range nodes {
		isConn := n.ClientURL() == nc.ConnectedUrl()
		if connected == isConn && (connected || n.NATS().Name() != leader) {
			return n
		}
	}
	t.Fatalf("no node to stop (connected %v, staging leader %q)", connected, leader)
	return nil
}
