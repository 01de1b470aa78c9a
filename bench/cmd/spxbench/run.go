package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spx-archive/spx/bench/duck"
	"github.com/spx-archive/spx/bench/gen"
	"github.com/spx-archive/spx/bench/proc"
	"github.com/spx-archive/spx/bench/report"
	"github.com/spx-archive/spx/pkg/spx"
)

// config is the parsed command line.
type config struct {
	rows           int64
	expirations    int
	memSmall       int64
	memLarge       int64
	runs           int
	threads        []int
	dir            string
	keep           bool
	spxBin         string
	repo           string
	cpuProfile     string
	fetchProfile   string
	e2eProfile     string
	roles          bool
	e2eRuns        int
	spxEnv         []string
	strict         bool
	e2e            bool
	fetcher        bool
	writer         bool
	e2eDate        string
	e2eConcurrency int
	quick          bool
	args           []string // as given, for the report
}

const (
	fullRows     = 7_800_000
	quickRows    = 1_000_000
	bytesPerRow  = 300 // generated NDJSON, measured ≈296
	childCommand = "duckdb-child"
)

// Main runs spxbench with args and returns the exit code: 0 ok, 1 failure
// (or a missed target with -strict), 2 usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == childCommand {
		if err := duckChild(ctx, args[1:]); err != nil {
			fmt.Fprintln(stderr, "spxbench duckdb-child:", err)
			return 1
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "spxbench:", err)
		return 2
	}
	failed, err := run(ctx, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "spxbench:", err)
		return 1
	}
	if failed && cfg.strict {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{args: args}
	var threads string
	fs := flag.NewFlagSet("spxbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&cfg.rows, "rows", fullRows, "rows of the generated day (rounded up to whole contracts of 391 stamps)")
	fs.IntVar(&cfg.expirations, "expirations", 0, "expirations the day's rows are spread over (0: one per 250k rows)")
	fs.Int64Var(&cfg.memSmall, "mem-small", 1_000_000, "rows of the small single-expiration file of the flat-memory test (0 skips the test)")
	fs.Int64Var(&cfg.memLarge, "mem-large", 4_000_000, "rows of the large single-expiration file of the flat-memory test")
	fs.IntVar(&cfg.runs, "runs", 1, "runs per converter; the median by wall time is reported")
	fs.StringVar(&threads, "duckdb-threads", "2,1", "DuckDB baselines to run, by thread count; the first is the one targets are judged against")
	fs.StringVar(&cfg.dir, "dir", os.TempDir(), "directory for the generated inputs and outputs (a temporary subdirectory is made and removed)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory")
	fs.StringVar(&cfg.spxBin, "spx", "", "spx binary to measure (default: build ../cmd/spx of the repository)")
	fs.StringVar(&cfg.repo, "repo", "", "spx repository root (default: found from the working directory)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "pass SPX_CPUPROFILE=FILE to the day's spx convert run (if spx supports it)")
	fs.Func("spx-env", "KEY=VALUE added to every spx convert run's environment, e.g. GOMEMLIMIT=200MiB (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		cfg.spxEnv = append(cfg.spxEnv, v)
		return nil
	})
	fs.StringVar(&cfg.fetchProfile, "fetch-cpuprofile", "", "write a CPU profile of the in-process fetcher runs of -fetcher to FILE")
	fs.StringVar(&cfg.e2eProfile, "e2e-cpuprofile", "", "pass SPX_CPUPROFILE=FILE to the end-to-end spx process run")
	fs.IntVar(&cfg.e2eRuns, "e2e-runs", 1, "end-to-end runs of each side, alternating; the median counts")
	fs.BoolVar(&cfg.roles, "roles", false, "also run the simulated day through separate coordinator, fetcher and writer processes and report each one's peak RSS")
	fs.BoolVar(&cfg.strict, "strict", false, "exit 1 when a target is missed")
	fs.BoolVar(&cfg.e2e, "e2e", false, "also run the end-to-end benchmark: a simulated day through spx process vs curl + DuckDB")
	fs.StringVar(&cfg.e2eDate, "e2e-date", "2024-03-15", "trade date of the end-to-end benchmark")
	fs.IntVar(&cfg.e2eConcurrency, "e2e-concurrency", 4, "terminal concurrency of the end-to-end benchmark (spx and curl alike)")
	fs.BoolVar(&cfg.writer, "writer", true, "run the writer-stage benchmark (-writer=false with -e2e runs only the end-to-end one)")
	fs.BoolVar(&cfg.fetcher, "fetcher", false, "also run the fetcher benchmark: staging the day's largest response into the object store vs downloading it")
	fs.BoolVar(&cfg.quick, "quick", false, "fast check: 1M-row day, 250k vs 1M flat-memory test")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: spxbench takes only flags (see -h)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		if !set["rows"] {
			cfg.rows = quickRows
		}
		if !set["mem-small"] {
			cfg.memSmall = 250_000
		}
		if !set["mem-large"] {
			cfg.memLarge = 1_000_000
		}
	}
	if cfg.e2eConcurrency <= 0 {
		return cfg, fmt.Errorf("-e2e-concurrency must be positive")
	}
	if cfg.e2eRuns <= 0 {
		return cfg, fmt.Errorf("-e2e-runs must be positive")
	}
	if !cfg.writer && !cfg.e2e {
		if !cfg.fetcher && !cfg.roles {
			return cfg, fmt.Errorf("-writer=false leaves nothing to run: add -e2e, -fetcher or -roles")
		}
	}
	if cfg.rows <= 0 || cfg.runs <= 0 || cfg.memSmall < 0 || (cfg.memSmall > 0 && cfg.memLarge <= cfg.memSmall) {
		return cfg, fmt.Errorf("-rows and -runs must be positive and -mem-large larger than -mem-small")
	}
	for _, t := range strings.Split(threads, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("-duckdb-threads %q: want a comma-separated list of positive thread counts, e.g. 2,1", threads)
		}
		cfg.threads = append(cfg.threads, n)
	}
	return cfg, nil
}

// duckName is the table name of the DuckDB baseline with n threads.
func duckName(n int) string {
	if n == 1 {
		return "duckdb 1 thread"
	}
	return fmt.Sprintf("duckdb %d threads", n)
}

func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (failed bool, err error) {
	started := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, a...))
	}
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return false, fmt.Errorf("creating -dir: %w", err)
	}
	work, err := os.MkdirTemp(cfg.dir, "spxbench-")
	if err != nil {
		return false, fmt.Errorf("creating the work directory: %w", err)
	}
	if cfg.keep {
		logf("work directory %s (kept)", work)
	} else {
		defer os.RemoveAll(work)
	}
	need := int64(1 << 30) // the end-to-end day
	if cfg.writer {
		need += (max(cfg.rows, cfg.memLarge)*bytesPerRow)*13/10 + 512<<20
	}
	if free, err := freeBytes(work); err == nil && free < need {
		return false, fmt.Errorf("only %d MiB free in %s, the run needs about %d MiB: free space or pass -dir", free>>20, work, need>>20)
	}

	self, err := os.Executable()
	if err != nil {
		return false, fmt.Errorf("finding this binary to run the DuckDB child: %w", err)
	}
	spxBin := cfg.spxBin
	if spxBin == "" {
		logf("building spx")
		if spxBin, err = buildSPX(ctx, cfg.repo, work); err != nil {
			return false, err
		}
	}

	duckVersion := "?"
	if db, err := duck.Open(ctx, 1); err == nil {
		_ = db.QueryRowContext(ctx, "SELECT library_version FROM pragma_version()").Scan(&duckVersion)
		db.Close()
	}

	var ws writerStage
	if cfg.writer {
		if ws, err = runWriterStage(ctx, cfg, spxBin, self, work, logf); err != nil {
			return false, err
		}
	}
	var e2eRows []report.Measurement
	var e2eStages stages
	e2eVerdict := hookE2E(ctx, cfg)
	if cfg.e2e {
		e2eRows, e2eVerdict, e2eStages = runE2E(ctx, cfg, spxBin, self, work, logf)
	}

	var fetchRows []report.Measurement
	fetchVerdict := hookFetcher(ctx, cfg)
	if cfg.fetcher {
		fetchRows, fetchVerdict = runFetcher(ctx, cfg, spxBin, work, logf)
	}

	var roleRows []roleResult
	var rolesWall time.Duration
	var rolesVerdict report.Verdict
	if cfg.roles {
		roleRows, rolesWall, rolesVerdict = runRoles(ctx, cfg, spxBin, work, logf)
	}

	// Report.
	w := stdout
	fmt.Fprintf(w, "## spxbench %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintln(w, machine(ctx, duckVersion))
	fmt.Fprintf(w, "Load average at the end (other work on the machine skews times): %s\n\n", loadAvg())
	fmt.Fprintf(w, "Command: `spxbench %s`; spx: %s\n\n", strings.Join(cfg.args, " "), revision(ctx, cfg))
	var vs []report.Verdict
	if cfg.writer {
		ws.write(w, cfg)
		var base report.Measurement
		if len(ws.ms) > 1 {
			base = ws.ms[1]
		} else {
			base = report.Measurement{Name: "DuckDB", Err: errors.New("no DuckDB baseline run")}
		}
		vs = report.Judge(report.IssueLimits, ws.ms[0], base, ws.small, ws.large)
	} else {
		for _, t := range []string{"1 writer speed", "2 output size", "3a converter peak RSS (day)", "3b flat memory"} {
			vs = append(vs, report.Verdict{Target: t, Got: "-writer=false", Status: "SKIP"})
		}
	}
	if len(e2eRows) > 0 {
		fmt.Fprintf(w, "### End to end\n\nA simulated day (`spx sim-terminal`, v3, concurrency %d) through `spx process` (embedded NATS, every role in one process) and through the naive peer: one contracts list, curl ×%d into CSV files, one DuckDB COPY (2 threads, types auto-detected) into one Parquet file. Peak RSS of the peer is DuckDB's; CPU s is spx's whole process but only DuckDB's for the peer (curl not counted). Median of %d alternating run(s) per side; peak RSS the largest of them.\n\n",
			cfg.e2eConcurrency, cfg.e2eConcurrency, cfg.e2eRuns)
		report.Table(w, e2eRows, []string{"curl + duckdb"})
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Where spx process's time went (from its log; fetchers %d, writers 2):\n\n", cfg.e2eConcurrency)
		e2eStages.markdown(w)
		fmt.Fprintln(w)
	}
	if len(fetchRows) > 0 {
		fmt.Fprintf(w, "### Fetcher\n\nThe largest greeks response of %s from the simulated terminal (v3 CSV): downloaded into io.Discard with net/http, and staged by one pkg/fetcher worker (decode, staged NDJSON arrays, SHA-256, s2, object store put in an embedded JetStream server, file storage; timed from publishing the job to its staged event). Median of %d each.\n\n",
			cfg.e2eDate, fetchRuns)
		report.Table(w, fetchRows, []string{"download to /dev/null"})
		fmt.Fprintln(w)
	}
	if len(roleRows) > 0 {
		fmt.Fprintf(w, "### Role processes\n\nThe same simulated day through `spx coordinator` (embedded NATS), `spx fetcher --fetchers %d` and `spx writer --writers 2` as separate processes, driven by `spx process --nats`; the day took %.1f s. Peak RSS is each process's VmHWM just before it was stopped.\n\n| process | peak RSS MiB | CPU s |\n| --- | ---: | ---: |\n",
			cfg.e2eConcurrency, rolesWall.Seconds())
		for _, r := range roleRows {
			fmt.Fprintf(w, "| spx %s | %.0f | %.1f |\n", r.Role, float64(r.PeakRSS)/report.MiB, r.CPU.Seconds())
		}
		fmt.Fprintln(w)
	}
	vs = append(vs, e2eVerdict, fetchVerdict)
	if cfg.roles {
		vs = append(vs, rolesVerdict)
	}
	fmt.Fprintln(w, "### Targets")
	fmt.Fprintln(w)
	report.Verdicts(w, vs)
	fmt.Fprintln(w)
	if cfg.writer && !ws.gateOK {
		return true, fmt.Errorf("correctness gate failed: %s", ws.gate)
	}
	return report.Failed(vs), nil
}

// writerStage holds the writer-stage results.
type writerStage struct {
	ms           []report.Measurement
	small, large report.Measurement
	dayInput     string
	day          gen.Stats
	exps         int
	gate         string
	gateOK       bool
	sizes        [2][]duck.ColumnSize
	threads      []int
}

// runWriterStage generates the day, runs spx convert and the DuckDB
// baselines on it, runs the flat-memory test and the correctness gate.
func runWriterStage(ctx context.Context, cfg config, spxBin, self, work string, logf func(string, ...any)) (writerStage, error) {
	ws := writerStage{threads: cfg.threads, gate: "not run", gateOK: true}
	day := filepath.Join(work, "day.ndjson")
	ws.exps = cfg.expirations
	if ws.exps <= 0 {
		ws.exps = int(max(1, cfg.rows/250_000))
	}
	logf("generating %d rows over %d expirations", cfg.rows, ws.exps)
	dst, err := generate(ctx, day, gen.Config{Rows: cfg.rows, Expirations: ws.exps, Seed: 1})
	if err != nil {
		return ws, err
	}
	ws.day = dst
	logf("generated %d rows, %d contracts, %.0f MiB", dst.Rows, dst.Contracts, float64(dst.Bytes)/report.MiB)
	ws.dayInput = fmt.Sprintf("day %s", humanRows(dst.Rows))

	spxSubject := subject{name: "spx convert", env: cfg.spxEnv, out: "spx.parquet", args: func(in, out string) (string, []string) {
		return spxBin, []string{"convert", "--dataset", "greeks", in, out}
	}}
	subjects := []subject{spxSubject}
	for _, n := range cfg.threads {
		subjects = append(subjects, subject{name: duckName(n), out: fmt.Sprintf("duckdb-%dt.parquet", n), args: func(in, out string) (string, []string) {
			return self, []string{childCommand, "-threads", strconv.Itoa(n), in, out}
		}})
	}
	for i, s := range subjects {
		env := slices.Clone(s.env)
		if i == 0 && cfg.cpuProfile != "" {
			env = append(env, "SPX_CPUPROFILE="+cfg.cpuProfile)
		}
		logf("%s: running %s (%d run(s))", ws.dayInput, s.name, cfg.runs)
		m := measure(ctx, s, env, day, filepath.Join(work, s.out), dst, cfg.runs)
		m.Input = ws.dayInput
		logResult(logf, m)
		ws.ms = append(ws.ms, m)
	}
	if err := os.Remove(day); err != nil {
		logf("removing %s: %v", day, err)
	}
	// The same rows as the fetchers stage them (JSON arrays), which is what
	// the pipeline's writers convert. DuckDB does not read this form.
	staged := filepath.Join(work, "day-staged.ndjson")
	sst, err := generate(ctx, staged, gen.Config{Rows: cfg.rows, Expirations: ws.exps, Seed: 1, Staged: true})
	if err != nil {
		return ws, err
	}
	logf("generated the day as staged arrays: %.0f MiB", float64(sst.Bytes)/report.MiB)
	arr := spxSubject
	arr.name, arr.out = "spx convert, staged arrays", "spx-staged.parquet"
	m := measure(ctx, arr, arr.env, staged, filepath.Join(work, arr.out), sst, cfg.runs)
	m.Input = ws.dayInput
	logResult(logf, m)
	ws.ms = append(ws.ms, m)
	os.Remove(staged)

	// Flat memory: one small and one large single expiration (the unit the
	// pipeline writes) through spx, and through the first DuckDB baseline
	// for size and speed on the same file.
	if cfg.memSmall > 0 {
		for _, mm := range []struct {
			rows int64
			dst  *report.Measurement
		}{{cfg.memSmall, &ws.small}, {cfg.memLarge, &ws.large}} {
			in := filepath.Join(work, fmt.Sprintf("exp-%d.ndjson", mm.rows))
			logf("flat-memory test: generating one expiration of %d rows", mm.rows)
			st, err := generate(ctx, in, gen.Config{Rows: mm.rows, Expirations: 1, Seed: 2})
			if err != nil {
				return ws, err
			}
			input := fmt.Sprintf("1 expiration %s", humanRows(st.Rows))
			for i, s := range subjects[:min(2, len(subjects))] {
				m := measure(ctx, s, s.env, in, filepath.Join(work, "exp.parquet"), st, 1)
				m.Input = input
				logResult(logf, m)
				ws.ms = append(ws.ms, m)
				if i == 0 {
					*mm.dst = m
				}
			}
			os.Remove(in)
		}
	}

	// Correctness gate: spx's file against the first DuckDB baseline.
	db, err := duck.Open(ctx, 2)
	if err != nil {
		ws.gate, ws.gateOK = err.Error(), false
		return ws, nil
	}
	defer db.Close()
	if len(ws.ms) > 1 && ws.ms[0].Err == nil && ws.ms[1].Err == nil {
		logf("correctness gate: reading both Parquet files back")
		spxFile, baseFile := filepath.Join(work, subjects[0].out), filepath.Join(work, subjects[1].out)
		ws.gate, ws.gateOK = correctness(ctx, db, spxFile, baseFile)
		for i, f := range []string{spxFile, baseFile} {
			if ws.sizes[i], err = duck.ColumnSizes(ctx, db, f); err != nil {
				logf("column sizes: %v", err)
			}
		}
	} else {
		ws.gate = "not run: a converter failed"
	}
	return ws, nil
}

// write prints the writer-stage section of the report.
func (ws writerStage) write(w io.Writer, cfg config) {
	fmt.Fprintf(w, "### Writer stage\n\nInputs: %s = one generated day, %d rows, %d expiration(s), %.0f MiB NDJSON (median of %d run(s)); "+
		"\"1 expiration\" = one large expiration (the file the pipeline writes), for the flat-memory test.\n\n",
		ws.dayInput, ws.day.Rows, ws.exps, float64(ws.day.Bytes)/report.MiB, cfg.runs)
	var baselines []string
	for _, n := range ws.threads {
		baselines = append(baselines, duckName(n))
	}
	report.Table(w, ws.ms, baselines)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "spx's Parquet has one column more than DuckDB's (timestamp) and stores expiration/date as date32; DuckDB's as the staged INTEGER YYYYMMDD.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Correctness gate (%s: row count, every numeric column's sum, string columns' hash sums; spx vs %s): %s\n\n", ws.dayInput, baselineName(ws.ms), ws.gate)
	if len(ws.sizes[0]) > 0 && len(ws.sizes[1]) > 0 {
		fmt.Fprintf(w, "Compressed column sizes, %s (spx vs %s):\n\n", ws.dayInput, baselineName(ws.ms))
		columnSizes(w, ws.sizes[0], ws.sizes[1])
		fmt.Fprintln(w)
	}
}

func logResult(logf func(string, ...any), m report.Measurement) {
	if m.Err != nil {
		logf("%s, %s failed: %v", m.Input, m.Name, m.Err)
		return
	}
	logf("%s, %s: %.2fs, peak RSS %.0f MiB, %.1f MiB Parquet", m.Input, m.Name, m.Wall.Seconds(), float64(m.PeakRSS)/report.MiB, float64(m.OutputBytes)/report.MiB)
}

// columnSizes writes a Markdown table of both files' column sizes, in the
// order of the first.
func columnSizes(w io.Writer, a, b []duck.ColumnSize) {
	fmt.Fprintln(w, "| column | spx KiB | spx encodings | baseline KiB | baseline encodings | spx / baseline |")
	fmt.Fprintln(w, "| --- | ---: | --- | ---: | --- | ---: |")
	other := map[string]duck.ColumnSize{}
	for _, c := range b {
		other[c.Column] = c
	}
	var ta, tb int64
	for _, c := range a {
		o, ok := other[c.Column]
		ratio := "–"
		if ok && o.Compressed > 0 {
			ratio = fmt.Sprintf("%.2f×", float64(c.Compressed)/float64(o.Compressed))
		}
		fmt.Fprintf(w, "| %s | %d | %s | %d | %s | %s |\n", c.Column, c.Compressed>>10, c.Encodings, o.Compressed>>10, o.Encodings, ratio)
		ta += c.Compressed
		tb += o.Compressed
	}
	fmt.Fprintf(w, "| total | %d | | %d | | %.2f× |\n", ta>>10, tb>>10, float64(ta)/float64(max(tb, 1)))
}

// revision names the spx source measured: the commit, and whether the
// working tree differed from it (other work in progress is then included).
func revision(ctx context.Context, cfg config) string {
	if cfg.spxBin != "" {
		return cfg.spxBin
	}
	repo := cfg.repo
	if repo == "" {
		var err error
		if repo, err = findRepo(); err != nil {
			return "?"
		}
	}
	out, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "built from " + repo
	}
	rev := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain", "--untracked-files=no", "--", "pkg", "cmd").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += " plus uncommitted changes in pkg/ or cmd/"
	}
	return rev
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func baselineName(ms []report.Measurement) string {
	if len(ms) > 1 {
		return ms[1].Name
	}
	return "DuckDB"
}

func humanRows(n int64) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%dk", n/1000)
}

type subject struct {
	name string
	env  []string
	out  string
	args func(in, out string) (string, []string)
}

// measure runs s on in runs times and returns the median run by wall time.
func measure(ctx context.Context, s subject, env []string, in, out string, st gen.Stats, runs int) report.Measurement {
	m := report.Measurement{Name: s.name, Rows: st.Rows, InputBytes: st.Bytes}
	var results []proc.Result
	for range runs {
		os.Remove(out)
		name, args := s.args(in, out)
		r, err := proc.Run(ctx, env, name, args...)
		if err != nil {
			m.Err = err
			return m
		}
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b proc.Result) int { return int(a.Wall - b.Wall) })
	r := results[len(results)/2]
	m.Wall, m.CPU, m.PeakRSS = r.Wall, r.CPU(), r.PeakRSS
	fi, err := os.Stat(out)
	if err != nil {
		m.Err = fmt.Errorf("%s wrote no output: %w", s.name, err)
		return m
	}
	m.OutputBytes = fi.Size()
	return m
}

func generate(ctx context.Context, path string, cfg gen.Config) (gen.Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return gen.Stats{}, fmt.Errorf("creating the input file: %w", err)
	}
	st, err := gen.Write(ctx, f, cfg)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", path, cerr)
	}
	return st, err
}

// correctness compares spx's Parquet with the baseline's.
func correctness(ctx context.Context, db *sql.DB, spxFile, baseFile string) (string, bool) {
	want, err := duck.Summarize(ctx, db, baseFile)
	if err != nil {
		return "FAIL: " + err.Error(), false
	}
	got, err := duck.Summarize(ctx, db, spxFile)
	if err != nil {
		return "FAIL: " + err.Error(), false
	}
	if diffs := duck.Compare(want, got, 1e-9); len(diffs) > 0 {
		return "FAIL: " + strings.Join(diffs, "; "), false
	}
	return fmt.Sprintf("PASS (%d rows, %d numeric and %d string columns agree)", want.Rows, len(want.Sums), len(want.Hashes)), true
}

// buildSPX builds ../cmd/spx of the repository into dir.
func buildSPX(ctx context.Context, repo, dir string) (string, error) {
	if repo == "" {
		var err error
		if repo, err = findRepo(); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "spx")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/spx")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building spx in %s: %w: %s (fix the build or pass -spx BINARY)", repo, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// findRepo walks up from the working directory to the go.mod of module
// github.com/spx-archive/spx.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the spx repository: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/spx-archive/spx\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no spx repository above %s: run from inside it or pass -repo or -spx", dir)
		}
	}
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// machine describes the machine for the report.
func machine(ctx context.Context, duckVersion string) string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
					}
				}
			}
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("Machine: %d CPUs (nproc), %s, RAM %s, %s %s/%s, DuckDB %s\n",
		runtime.NumCPU(), cpu, mem, goVersion, runtime.GOOS, runtime.GOARCH, duckVersion)
}

// duckChild is the DuckDB baseline as its own process:
// duckdb-child -threads N IN OUT.
func duckChild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(childCommand, flag.ContinueOnError)
	threads := fs.Int("threads", 2, "DuckDB threads")
	dataset := fs.String("dataset", string(spx.Greeks), "dataset of the NDJSON")
	csvGlob := fs.Bool("csv", false, "IN is a glob of CSV files with auto-detected types (the end-to-end peer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("want IN.ndjson OUT.parquet, got %d arguments", fs.NArg())
	}
	ds, err := spx.ParseDataset(*dataset)
	if err != nil {
		return err
	}
	db, err := duck.Open(ctx, *threads)
	if err != nil {
		return err
	}
	defer db.Close()
	if *csvGlob {
		if _, err := db.ExecContext(ctx, duck.ConvertCSVSQL(fs.Arg(0), fs.Arg(1))); err != nil {
			return fmt.Errorf("converting %s with duckdb: %w", fs.Arg(0), err)
		}
		return nil
	}
	return duck.Convert(ctx, db, ds, fs.Arg(0), fs.Arg(1))
}
