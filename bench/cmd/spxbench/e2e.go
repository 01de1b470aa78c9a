package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spx-archive/spx/bench/duck"
	"github.com/spx-archive/spx/bench/proc"
	"github.com/spx-archive/spx/bench/report"
	"github.com/spx-archive/spx/pkg/spx"
)

// e2eResult is one side of the end-to-end comparison.
type e2eResult struct {
	Wall    time.Duration
	CPU     time.Duration // of the measured children (spx; DuckDB for the peer)
	PeakRSS int64
	Rows    int64
	Bytes   int64
	Stages  stages // spx process only
}

// runE2E runs target 4: a simulated day through `spx process` (embedded
// NATS on random ports, every role in one process) and through the naive
// peer (curl at the terminal's concurrency into CSV files, then one DuckDB
// COPY), both against the same simulated terminal on 127.0.0.1:0.
func runE2E(ctx context.Context, cfg config, spxBin, self, work string, logf func(string, ...any)) ([]report.Measurement, report.Verdict, stages) {
	v := report.Verdict{Target: "4 end to end", Want: fmt.Sprintf("spx process %s no slower than curl ×%d + DuckDB (the issue sets no number)", cfg.e2eDate, cfg.e2eConcurrency)}
	fail := func(err error) ([]report.Measurement, report.Verdict, stages) {
		v.Status, v.Got = "FAIL", err.Error()
		return nil, v, stages{}
	}
	date, err := spx.ParseDate(cfg.e2eDate)
	if err != nil {
		return fail(fmt.Errorf("-e2e-date: %w", err))
	}
	dir := filepath.Join(work, "e2e")
	sim, base, err := startSim(ctx, spxBin, cfg.e2eConcurrency)
	if err != nil {
		return fail(err)
	}
	defer sim.stop()
	logf("e2e: simulated terminal at %s", base)

	// Runs alternate (spx, peer, spx, peer …) so load from other work on
	// the machine hits both sides alike; the median of each side counts.
	var ss, ps []e2eResult
	for run := 1; run <= cfg.e2eRuns; run++ {
		logf("e2e: spx process %s (run %d of %d)", date, run, cfg.e2eRuns)
		profile := ""
		if run == 1 {
			profile = cfg.e2eProfile
		}
		s, err := e2eSPX(ctx, spxBin, self, base, date, filepath.Join(dir, fmt.Sprintf("spx-%d", run)), cfg.e2eConcurrency, profile)
		if err != nil {
			return fail(fmt.Errorf("spx process: %w", err))
		}
		logf("e2e: spx process: %.1fs, %.1f CPU s, %d rows, peak RSS %.0f MiB", s.Wall.Seconds(), s.CPU.Seconds(), s.Rows, float64(s.PeakRSS)/report.MiB)
		ss = append(ss, s)
		logf("e2e: naive peer (curl ×%d, then DuckDB)", cfg.e2eConcurrency)
		p, err := e2ePeer(ctx, self, base, date, filepath.Join(dir, fmt.Sprintf("peer-%d", run)), cfg.e2eConcurrency)
		if err != nil {
			return fail(fmt.Errorf("naive peer: %w", err))
		}
		logf("e2e: naive peer: %.1fs, %.1f CPU s, %d rows, peak RSS %.0f MiB", p.Wall.Seconds(), p.CPU.Seconds(), p.Rows, float64(p.PeakRSS)/report.MiB)
		ps = append(ps, p)
	}
	s, p := medianResult(ss), medianResult(ps)

	input := "e2e " + date.String()
	ms := []report.Measurement{
		{Name: "spx process", Input: input, Rows: s.Rows, Wall: s.Wall, CPU: s.CPU, PeakRSS: s.PeakRSS, OutputBytes: s.Bytes},
		{Name: "curl + duckdb", Input: input, Rows: p.Rows, Wall: p.Wall, CPU: p.CPU, PeakRSS: p.PeakRSS, OutputBytes: p.Bytes},
	}
	// Judged on the median of each adjacent pair's ratio: a load spike
	// then hits both sides of a pair, not one side's median.
	var pairs []float64
	var pairText []string
	for i := range ss {
		pairs = append(pairs, ps[i].Wall.Seconds()/ss[i].Wall.Seconds())
		pairText = append(pairText, fmt.Sprintf("%.2f", pairs[i]))
	}
	r := medianFloat(pairs)
	v.Got = fmt.Sprintf("%.2f (median of pairs %s; median peer %.1fs vs spx %.1fs; CPU peer %.1fs (DuckDB only) vs spx %.1fs; rows %d vs %d)",
		r, strings.Join(pairText, ", "), p.Wall.Seconds(), s.Wall.Seconds(), p.CPU.Seconds(), s.CPU.Seconds(), p.Rows, s.Rows)
	switch {
	case s.Rows != p.Rows:
		v.Status = "FAIL"
		v.Got += ": row counts differ"
	case r >= 1:
		v.Status = "PASS"
	default:
		v.Status = "FAIL"
	}
	return ms, v, s.Stages
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianResult is the run with the median wall time, its peak RSS
// replaced by the largest of all runs (memory bounds hold for every run).
func medianResult(rs []e2eResult) e2eResult {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b e2eResult) int { return cmp.Compare(a.Wall, b.Wall) })
	m := sorted[len(sorted)/2]
	for _, r := range rs {
		m.PeakRSS = max(m.PeakRSS, r.PeakRSS)
	}
	return m
}

type simProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (s *simProcess) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

var simURL = regexp.MustCompile(`v3=(http://127\.0\.0\.1:[0-9]+)`)

// startSim starts `spx sim-terminal` (v3 only) on a random loopback port
// and returns its base URL from the start-up log line.
func startSim(ctx context.Context, spxBin string, concurrency int) (*simProcess, string, error) {
	cmd := exec.Command(spxBin, "sim-terminal", "--v3-addr", "127.0.0.1:0", "--v2-addr", "", "--concurrency", fmt.Sprint(concurrency))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", fmt.Errorf("starting the simulated terminal: %w", err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting the simulated terminal: %w", err)
	}
	s := &simProcess{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := simURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	select {
	case u := <-found:
		return s, u, nil
	case <-s.done:
		return nil, "", errors.New("the simulated terminal exited before listening: run `spx sim-terminal --v3-addr 127.0.0.1:0` to see why")
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, "", errors.New("the simulated terminal did not report its address within 15s")
}

// e2eSPX runs `spx process DATE` with a fresh database, archive and
// embedded NATS on random ports, then counts the archive's rows.
func e2eSPX(ctx context.Context, spxBin, self, base string, date spx.Date, dir string, concurrency int, cpuProfile string) (e2eResult, error) {
	out := filepath.Join(dir, "parquet")
	for _, d := range []string{out, filepath.Join(dir, "nats"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return e2eResult{}, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	env := []string{
		"SPX_NATS_LISTEN=127.0.0.1:0", "SPX_NATS_MONITOR=127.0.0.1:0",
		"SPX_NATS_STORE_DIR=" + filepath.Join(dir, "nats"),
		"SPX_PROCESSING_TEMP_DIR=" + filepath.Join(dir, "tmp"),
		"SPX_THETADATA_CONCURRENCY=" + fmt.Sprint(concurrency),
	}
	if cpuProfile != "" {
		env = append(env, "SPX_CPUPROFILE="+cpuProfile)
	}
	start := time.Now()
	r, err := proc.Run(ctx, env, spxBin, "process", date.String(), "--terminal", base, "--db", filepath.Join(dir, "spx.db"), "--output-dir", out,
		"--log-level", "info", "--log-format", "json")
	if err != nil {
		return e2eResult{}, err
	}
	res := e2eResult{Wall: r.Wall, CPU: r.CPU(), PeakRSS: r.PeakRSS, Stages: parseStages(r.Stderr, start, r.Wall)}
	res.Rows, res.Bytes, err = countParquet(ctx, filepath.Join(out, "**", "*.parquet"))
	return res, err
}

// e2ePeer is what a person does without spx: list the day's contracts,
// download every (root, expiration) with curl, `concurrency` at a time,
// then convert all CSV files with one DuckDB COPY.
func e2ePeer(ctx context.Context, self, base string, date spx.Date, dir string, concurrency int) (e2eResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return e2eResult{}, fmt.Errorf("creating %s: %w", dir, err)
	}
	start := time.Now()
	pairs, _, err := listPairs(ctx, base, date)
	if err != nil {
		return e2eResult{}, err
	}
	jobs := make(chan [2]string)
	errs := make(chan error, len(pairs))
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				q := url.Values{"symbol": {p[0]}, "expiration": {p[1]}, "date": {date.Compact()}, "interval": {"1m"}, "format": {"csv"}}
				u := base + "/v3" + spx.Greeks.V3Path() + "?" + q.Encode()
				f := filepath.Join(dir, p[0]+"_"+p[1]+".csv")
				if out, err := exec.CommandContext(ctx, "curl", "-sS", "--fail", "-o", f, u).CombinedOutput(); err != nil {
					errs <- fmt.Errorf("curl %s: %w: %s", u, err, strings.TrimSpace(string(out)))
				}
			}
		}()
	}
	for _, p := range pairs {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return e2eResult{}, err
	}
	out := filepath.Join(dir, "day.parquet")
	r, err := proc.Run(ctx, nil, self, childCommand, "-csv", "-threads", "2", filepath.Join(dir, "*.csv"), out)
	if err != nil {
		return e2eResult{}, err
	}
	res := e2eResult{Wall: time.Since(start), CPU: r.CPU(), PeakRSS: r.PeakRSS}
	res.Rows, res.Bytes, err = countParquet(ctx, out)
	return res, err
}

// listPairs lists the (root, expiration) pairs quoted on date, as the
// peer would: one contracts request for SPXW and SPX. counts holds each
// pair's number of contracts.
func listPairs(ctx context.Context, base string, date spx.Date) (pairs [][2]string, counts map[[2]string]int, err error) {
	u := base + "/v3/option/list/contracts/quote?symbol=SPXW,SPX&date=" + date.Compact()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("listing contracts: %w", err)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("listing contracts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, nil, fmt.Errorf("listing contracts: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the contract list: %w", err)
	}
	counts = map[[2]string]int{}
	for i, r := range rows {
		if i == 0 || len(r) < 2 {
			continue // header
		}
		p := [2]string{r[0], strings.ReplaceAll(r[1], "-", "")}
		if counts[p] == 0 {
			pairs = append(pairs, p)
		}
		counts[p]++
	}
	if len(pairs) == 0 {
		return nil, nil, fmt.Errorf("no contracts listed for %s: pick a trading day with -e2e-date", date)
	}
	return pairs, counts, nil
}

// countParquet counts the rows and bytes of the Parquet files matching glob.
func countParquet(ctx context.Context, glob string) (rows, bytes int64, err error) {
	db, err := duck.Open(ctx, 2)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet('"+strings.ReplaceAll(glob, "'", "''")+"')").Scan(&rows); err != nil {
		return 0, 0, fmt.Errorf("counting the rows of %s: %w", glob, err)
	}
	root := glob
	if i := strings.IndexByte(root, '*'); i >= 0 {
		root = filepath.Dir(root[:i])
	}
	err = filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasSuffix(path, ".parquet") {
			bytes += fi.Size()
		}
		return err
	})
	return rows, bytes, err
}
