package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

type env struct {
	sim    *terminalsim.Sim
	v3, v2 string
	cfg    config.Config
	store  *statusdb.Store
	p      *pipeline.Pipeline
	client *coordinator.Client
}

type envOptions struct {
	sim       terminalsim.Config
	api       string // v3 or v2
	datasets  []spx.Dataset
	fetchers  int
	topology  queue.Topology
	noWorkers bool
	config    func(*config.Config)    // last changes to the configuration
	archive   spx.ArchiveStore        // nil: from the configuration
	pipeline  func(*pipeline.Options) // last changes to the pipeline's options
}

func start(t testing.TB, o envOptions) *env {
	t.Helper()
	sim := terminalsim.New(o.sim)
	v3, v2, stop, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	store, err := statusdb.Open(filepath.Join(dir, "spx.db"), statusdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := config.Default()
	cfg.ThetaAPI = o.api
	cfg.ThetaBaseURL = v3
	if o.api == "v2" {
		cfg.ThetaBaseURL = v2
	}
	if o.datasets != nil {
		cfg.Datasets = o.datasets
	}
	cfg.Concurrency = max(o.sim.Concurrency, 1)
	// Five-minute bars keep the files small enough for -race on two cores.
	cfg.Interval = 5 * time.Minute
	cfg.OutputDir = filepath.Join(dir, "parquet")
	cfg.TempDir = filepath.Join(dir, "temp")
	cfg.NATSListen, cfg.NATSMonitor, cfg.NATSStoreDir = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, "nats")
	if o.config != nil {
		o.config(&cfg)
	}
	fetchers := o.fetchers
	if fetchers == 0 {
		fetchers = 4
	}
	writers := 2
	if o.noWorkers {
		fetchers, writers = 0, 0
	}
	topo := o.topology
	if topo.FetchAckWait == 0 {
		topo.FetchAckWait = 5 * time.Second
	}
	var logger *slog.Logger
	if os.Getenv("SPX_E2E_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	popts := pipeline.Options{Logger: logger, Config: cfg, Coordinator: true, Fetchers: fetchers, Writers: writers,
		Embedded: true, Store: store, Archive: o.archive, Topology: topo, FetchRetries: 1, RetryBase: 10 * time.Millisecond,
		Policy: queue.Policy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond}, InProgressEvery: time.Second}
	if o.pipeline != nil {
		o.pipeline(&popts)
	}
	p, err := pipeline.Start(context.Background(), popts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	return &env{sim: sim, v3: v3, v2: v2, cfg: cfg, store: store, p: p, client: p.Client()}
}

// waitDays polls progress until every day is finished.
func (e *env) waitDays(t testing.TB, dates []spx.Date) []coordinator.DayProgress {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		prog, err := e.client.Progress(context.Background(), dates)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, p := range prog {
			done = done && p.Finished
		}
		if done {
			return prog
		}
		if time.Now().After(deadline) {
			t.Fatalf("days not finished in time: %+v", prog)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func parquetRows(t *testing.T, path string) int64 {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.NumRows()
}

// parquetValues reads the (strike, right, ms_of_day) → column value pairs of
// a file as strings (exact float formatting).
func parquetValues(t *testing.T, path string, cols []string) map[string]string {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1<<16)
	defer tr.Release()
	out := map[string]string{}
	for tr.Next() {
		rec := tr.Record()
		idx := func(name string) int {
			ii := rec.Schema().FieldIndices(name)
			if len(ii) == 0 {
				t.Fatalf("%s: no column %s", path, name)
			}
			return ii[0]
		}
		strike, right, ms := rec.Column(idx("strike")), rec.Column(idx("right")), rec.Column(idx("ms_of_day"))
		for i := 0; i < int(rec.NumRows()); i++ {
			k := fmt.Sprintf("%s|%s|%s", strike.ValueStr(i), right.ValueStr(i), ms.ValueStr(i))
			for _, c := range cols {
				out[k+"|"+c] = rec.Column(idx(c)).ValueStr(i)
			}
		}
	}
	return out
}

func floatStr(b []byte) string {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return "bad:" + string(b)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
