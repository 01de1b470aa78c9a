package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/bench/report"
	"github.com/spx-archive/spx/pkg/fetcher"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetadata"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// fetchRuns is how many times each side of target 5 runs; the median counts.
const fetchRuns = 3

// runFetcher runs target 5 against a simulated terminal: the largest
// greeks response of the day downloaded into io.Discard with net/http
// (what curl -o /dev/null does), against one pkg/fetcher worker streaming
// the same response into the staging object store of an embedded JetStream
// server (random port, file storage). The fetcher's time runs from
// publishing the fetch job to its "staged" event.
func runFetcher(ctx context.Context, cfg config, spxBin, work string, logf func(string, ...any)) ([]report.Measurement, report.Verdict) {
	v := report.Verdict{Target: "5 fetcher streaming", Want: "object-store put ≤ 1.3 × download to /dev/null"}
	fail := func(err error) ([]report.Measurement, report.Verdict) {
		v.Status, v.Got = "FAIL", err.Error()
		return nil, v
	}
	date, err := spx.ParseDate(cfg.e2eDate)
	if err != nil {
		return fail(fmt.Errorf("-e2e-date: %w", err))
	}
	sim, base, err := startSim(ctx, spxBin, cfg.e2eConcurrency)
	if err != nil {
		return fail(err)
	}
	defer sim.stop()
	root, exp, err := largestExpiration(ctx, base, date)
	if err != nil {
		return fail(err)
	}
	q := url.Values{"symbol": {root}, "expiration": {exp.Compact()}, "date": {date.Compact()}, "interval": {"1m"}, "format": {"csv"}}
	u := base + "/v3" + spx.Greeks.V3Path() + "?" + q.Encode()

	var dl []time.Duration
	var size int64
	for range fetchRuns {
		d, n, err := download(ctx, u)
		if err != nil {
			return fail(err)
		}
		dl = append(dl, d)
		size = n
	}
	logf("fetcher: %s %s download to /dev/null: %v (%d MiB)", root, exp, median(dl), size>>20)

	if cfg.fetchProfile != "" {
		f, err := os.Create(cfg.fetchProfile)
		if err != nil {
			return fail(fmt.Errorf("creating the fetcher profile: %w", err))
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(fmt.Errorf("starting the fetcher profile: %w", err))
		}
		defer pprof.StopCPUProfile()
	}
	put, raw, rows, err := fetchIntoStore(ctx, base, u, spx.JobKey{Dataset: spx.Greeks, Root: root, Date: date, Expiration: exp}, filepath.Join(work, "fetch-nats"))
	if err != nil {
		return fail(fmt.Errorf("fetcher: %w", err))
	}
	logf("fetcher: %s %s into the object store: %v (%d rows); the raw response s2-compressed into it: %v", root, exp, put, rows, raw)

	input := fmt.Sprintf("fetch %s %s", root, exp)
	ms := []report.Measurement{
		{Name: "fetcher → object store", Input: input, Rows: rows, InputBytes: size, Wall: put},
		{Name: "raw response → s2 → object store (no decoding; reference)", Input: input, Rows: rows, InputBytes: size, Wall: raw},
		{Name: "download to /dev/null", Input: input, Rows: rows, InputBytes: size, Wall: median(dl)},
	}
	r := put.Seconds() / median(dl).Seconds()
	v.Got = fmt.Sprintf("%.2f× (%.3fs vs %.3fs, %d MiB CSV, median of %d; the raw response s2-compressed into the store without decoding: %.2f×)",
		r, put.Seconds(), median(dl).Seconds(), size>>20, fetchRuns, raw.Seconds()/median(dl).Seconds())
	v.Status = "PASS"
	if r > 1.3 {
		v.Status = "FAIL"
	}
	return ms, v
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// largestExpiration picks the (root, expiration) with the most contracts
// quoted on date.
func largestExpiration(ctx context.Context, base string, date spx.Date) (string, spx.Date, error) {
	pairs, counts, err := listPairs(ctx, base, date)
	if err != nil {
		return "", 0, err
	}
	best := pairs[0]
	for _, p := range pairs {
		if counts[p] > counts[best] {
			best = p
		}
	}
	exp, err := spx.ParseCompactDate(best[1])
	if err != nil {
		return "", 0, fmt.Errorf("reading expiration %q: %w", best[1], err)
	}
	return best[0], exp, nil
}

// get requests u and checks for 200.
func get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("downloading %s: %s", u, resp.Status)
	}
	return resp, nil
}

func download(ctx context.Context, u string) (time.Duration, int64, error) {
	start := time.Now()
	resp, err := get(ctx, u)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("downloading %s: %w", u, err)
	}
	return time.Since(start), n, nil
}

// waitEmpty waits up to 10 s for stream to hold no message.
func waitEmpty(ctx context.Context, js jetstream.JetStream, stream string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return fmt.Errorf("reading %s: %w", stream, err)
		}
		if st.CachedInfo().State.Msgs == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still holds %d message(s) after 10s", stream, st.CachedInfo().State.Msgs)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// putRaw streams the response at u through s2 into store as one object.
func putRaw(ctx context.Context, store jetstream.ObjectStore, u string) (time.Duration, error) {
	start := time.Now()
	resp, err := get(ctx, u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	pr, pw := io.Pipe()
	go func() {
		sw := s2.NewWriter(pw, s2.WriterConcurrency(1))
		_, err := io.Copy(sw, resp.Body)
		if err == nil {
			err = sw.Close()
		}
		pw.CloseWithError(err)
	}()
	if _, err := store.Put(ctx, jetstream.ObjectMeta{Name: "bench/raw.csv.s2", Opts: &jetstream.ObjectMetaOptions{ChunkSize: 512 << 10}}, pr); err != nil {
		return 0, fmt.Errorf("putting the raw response: %w", err)
	}
	return time.Since(start), nil
}

// fetchIntoStore runs one fetcher worker on key fetchRuns times and
// returns the median time from publish to the staged event. For reference
// it also times the same response put into the same object store as it
// comes, s2-compressed but not decoded (raw): what staging would cost if
// fetchers did not decode and check every row.
func fetchIntoStore(ctx context.Context, base, u string, key spx.JobKey, storeDir string) (put, raw time.Duration, rows int64, err error) {
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return 0, 0, 0, fmt.Errorf("creating %s: %w", storeDir, err)
	}
	srv, err := queue.StartServer(queue.ServerOptions{Listen: "127.0.0.1:0", StoreDir: storeDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, 0, err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return 0, 0, 0, fmt.Errorf("connecting to the embedded NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("opening JetStream: %w", err)
	}
	if err := queue.Ensure(ctx, js, queue.Topology{}); err != nil {
		return 0, 0, 0, err
	}
	client, err := thetadata.New(ctx, thetadata.Options{BaseURL: base, API: "v3"})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("opening the terminal client: %w", err)
	}
	sub, err := nc.SubscribeSync(queue.EventSubject(key))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("subscribing to events: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	svc := fetcher.New(js, client, fetcher.Config{Workers: 1})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	var times []time.Duration
	for gen := 1; gen <= fetchRuns; gen++ {
		// The write stream keeps one job per key: empty it so the next
		// run's hand-off is accepted.
		if st, err := js.Stream(ctx, queue.StreamWrite); err == nil {
			_ = st.Purge(ctx)
		}
		// The fetcher acks a job just after its staged event: wait for
		// the ack, or the fetch stream (one job per key) refuses the next.
		if err := waitEmpty(ctx, js, queue.StreamFetch); err != nil {
			return 0, 0, 0, err
		}
		start := time.Now()
		if err := queue.PublishFetch(ctx, js, key, gen, time.Minute); err != nil {
			return 0, 0, 0, err
		}
		for {
			m, err := sub.NextMsg(5 * time.Minute)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("waiting for the staged event: %w", err)
			}
			ev, _, err := queue.DecodeEvent(m.Data)
			if err != nil {
				return 0, 0, 0, err
			}
			if ev.GetGeneration() != int32(gen) && ev.GetGeneration() != 0 {
				continue
			}
			switch ev.GetKind() {
			case spxv1.EventKind_EVENT_KIND_STAGED:
				times = append(times, time.Since(start))
				rows = ev.GetRows()
			case spxv1.EventKind_EVENT_KIND_FETCHING:
				continue
			default:
				return 0, 0, 0, fmt.Errorf("job ended %v: %s", ev.GetKind(), ev.GetErrorMessage())
			}
			break
		}
	}
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("opening the staging store: %w", err)
	}
	var raws []time.Duration
	for range fetchRuns {
		d, err := putRaw(ctx, store, u)
		if err != nil {
			return 0, 0, 0, err
		}
		raws = append(raws, d)
	}
	raw = median(raws)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return 0, 0, 0, errors.New("the fetcher did not stop within 10s")
	}
	return median(times), raw, rows, nil
}
