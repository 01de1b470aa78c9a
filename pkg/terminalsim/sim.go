package terminalsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Config sets up a simulated terminal. Zero values mean the defaults noted.
type Config struct {
	Seed        int64
	Tier        string // free|value|standard|pro → concurrency 1/2/4/8 (default standard)
	Concurrency int    // overrides Tier when > 0
	QueueSize   int    // requests waiting beyond the concurrency limit (default 16); past that 429
	TickLimit   int    // v2 rows per page (default 500000)
	PageTTL     time.Duration
	// LargeRequestRows answers 570 when a request would exceed this many
	// rows (0 = off).
	LargeRequestRows int
	// OneClientIP answers 476 to a request from a second client address.
	OneClientIP bool
	// MaxExpirations and MaxStrikes shrink the universe for tests (0 =
	// realistic): expirations per root per day (nearest kept), strikes per
	// expiration (nearest the money kept).
	MaxExpirations int
	MaxStrikes     int
	// ContractsLatency is added to /v2/list/contracts (the real terminal
	// adds about 500 ms).
	ContractsLatency time.Duration
	// Latency is a real terminal's per-request cost, applied to every list
	// and history request while it holds a concurrency slot.
	Latency Latency
	// JSONShape is the shape of v3 format=json answers: JSONSpec (the
	// default) or JSONColumnar.
	JSONShape string
	Faults    Faults
	Logger    *slog.Logger
}

// Latency models the time a real terminal takes per request: FirstByte
// before the answer starts, then at most BytesPerSecond (0: unlimited).
type Latency struct {
	FirstByte      time.Duration
	BytesPerSecond int64
}

// Faults are injected failures. Rates are probabilities per history
// request; ErrorRate applies to a request's first answer (a v2 page
// continuation is never refused with an injected code), the body faults
// to every page.
type Faults struct {
	ErrorRate    map[int]float64 // status code → probability, e.g. 474: 0.05
	Disconnect   time.Duration   // a 474 burst starting now; health says DISCONNECTED meanwhile
	StartupPhase time.Duration   // 571 SERVER_STARTING for this long after start
	ResetRate    float64         // connection reset mid-body
	StallRate    float64         // body stops mid-way and holds the connection
	TruncateRate float64         // body ends early without its closing envelope
	Latency      time.Duration   // added before the response headers
	// ExpireRate is the probability that a v2 page continuation has
	// expired (477 NO_PAGE_FOUND) when it is asked for.
	ExpireRate float64
	// BadData makes every v3 CSV history answer malformed in one way (see
	// ParseBadData): header, nan, inf, fields or empty. "" is off.
	BadData string
}

// Stats counts what the terminal served.
type Stats struct {
	Requests        map[string]map[string]int64 `json:"requests"`          // endpoint path → status → count
	RowsServedTotal int64                       `json:"rows_served_total"` // history rows sent, partial bodies included
	RowsServed      map[string]int64            `json:"rows_served"`       // job key → rows of the last complete response (all pages) of one date: one expiration, or each of an expiration=* request
	Completed       map[string]int64            `json:"completed"`         // job key → complete responses served (as RowsServed counts them)
	MaxConcurrent   int                         `json:"max_concurrent"`    // most history/list requests served at once
	InFlight        int                         `json:"in_flight"`
	Queued          int                         `json:"queued"` // requests waiting for a slot now
}

// Sim is a simulated Theta Terminal.
type Sim struct {
	cfg    Config
	log    *slog.Logger
	market *market
	lim    *limiter

	mu           sync.Mutex
	faults       Faults
	disconnectTo time.Time
	startupTo    time.Time
	rnd          *rand.Rand
	clientIP     string
	stats        Stats
	pages        map[int64]*page
	nextPage     int64
}

var tierConcurrency = map[string]int{"free": 1, "value": 2, "standard": 4, "pro": 8}

// New builds a simulated terminal.
func New(cfg Config) *Sim {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = tierConcurrency[strings.ToLower(cfg.Tier)]
		if cfg.Concurrency == 0 {
			cfg.Concurrency = 4
		}
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 16
	}
	if cfg.TickLimit <= 0 {
		cfg.TickLimit = 500000
	}
	if cfg.JSONShape == "" {
		cfg.JSONShape = JSONSpec
	}
	if cfg.PageTTL <= 0 {
		cfg.PageTTL = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg:    cfg,
		log:    log,
		market: newMarket(cfg.Seed, cfg.MaxExpirations, cfg.MaxStrikes),
		lim:    &limiter{limit: cfg.Concurrency, queue: cfg.QueueSize},
		rnd:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		pages:  map[int64]*page{},
		stats:  Stats{Requests: map[string]map[string]int64{}, RowsServed: map[string]int64{}, Completed: map[string]int64{}},
	}
	s.SetFaults(cfg.Faults)
	return s
}

// SetFaults replaces the injected faults. Disconnect and StartupPhase
// start counting now.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	now := time.Now()
	s.disconnectTo = now.Add(f.Disconnect)
	s.startupTo = now.Add(f.StartupPhase)
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Requests:        map[string]map[string]int64{},
		RowsServedTotal: s.stats.RowsServedTotal,
		RowsServed:      map[string]int64{},
		Completed:       map[string]int64{},
	}
	for k, n := range s.stats.Completed {
		st.Completed[k] = n
	}
	for p, m := range s.stats.Requests {
		st.Requests[p] = map[string]int64{}
		for c, n := range m {
			st.Requests[p][c] = n
		}
	}
	for k, n := range s.stats.RowsServed {
		st.RowsServed[k] = n
	}
	st.MaxConcurrent, st.InFlight, st.Queued = s.lim.snapshot()
	return st
}

// Expirations lists the expirations of root alive and quoted on date.
func (s *Sim) Expirations(root string, date spx.Date) []spx.Date {
	return append([]spx.Date(nil), s.market.expirations(root, date)...)
}

// ExpectedRows is the number of rows a full-session request of ds for
// (root, date, exp) returns at the default interval (1m); 0 means the
// terminal answers NO_DATA.
func (s *Sim) ExpectedRows(ds spx.Dataset, root string, date, exp spx.Date) int64 {
	r := &histReq{ds: ds, root: root, from: date, to: date, exp: exp, ivl: msMinute, startMs: msOpen, endMs: 16 * 3600 * 1000}
	return totalRows(s.market.segmentsFor(r))
}

func (s *Sim) countRequest(path string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.stats.Requests[path]
	if m == nil {
		m = map[string]int64{}
		s.stats.Requests[path] = m
	}
	m[strconv.Itoa(code)]++
}

func (s *Sim) addRows(n int64) {
	s.mu.Lock()
	s.stats.RowsServedTotal += n
	s.mu.Unlock()
}

// completed records a complete response of rows to r (segs: its
// segments). A one-date request of one expiration counts for that job; a
// one-date expiration=* request counts for each expiration's job (the
// rows of its segment), as if each had been asked for on its own.
func (s *Sim) completed(r *histReq, segs []*segment, rows int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key := r.jobKey(); key != "" {
		s.stats.RowsServed[key] = rows
		s.stats.Completed[key]++
		return
	}
	if !r.allExp || r.from != r.to || r.atTime {
		return
	}
	for _, g := range segs {
		key := spx.JobKey{Dataset: r.ds, Root: r.root, Date: g.date, Expiration: g.exp}.String()
		s.stats.RowsServed[key] = g.rows()
		s.stats.Completed[key]++
	}
}

func (s *Sim) roll() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64()
}

func (s *Sim) currentFaults() (Faults, bool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	return s.faults, now.Before(s.disconnectTo), now.Before(s.startupTo)
}

// errorFault picks an injected status code for a history request (0: none).
func (s *Sim) errorFault(f Faults) int {
	if len(f.ErrorRate) == 0 {
		return 0
	}
	codes := make([]int, 0, len(f.ErrorRate))
	for c := range f.ErrorRate {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	u := s.roll()
	acc := 0.0
	for _, c := range codes {
		acc += f.ErrorRate[c]
		if u < acc {
			return c
		}
	}
	return 0
}

// bodyFault is an injected failure in the middle of a body.
type bodyFault int

const (
	faultNone bodyFault = iota
	faultReset
	faultStall
	faultTruncate
)

func (s *Sim) pickBodyFault(f Faults, rows int64) (bodyFault, int64) {
	if rows <= 0 || f.ResetRate+f.StallRate+f.TruncateRate == 0 {
		return faultNone, 0
	}
	u := s.roll()
	at := rows / 2
	switch {
	case u < f.ResetRate:
		return faultReset, at
	case u < f.ResetRate+f.StallRate:
		return faultStall, at
	case u < f.ResetRate+f.StallRate+f.TruncateRate:
		return faultTruncate, at
	}
	return faultNone, 0
}

// checkClient enforces the one-client-address rule.
func (s *Sim) checkClient(r *http.Request) bool {
	if !s.cfg.OneClientIP {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clientIP == "" {
		s.clientIP = host
	}
	return s.clientIP == host
}

// statusNames are the terminal's names for its status codes.
var statusNames = map[int]string{
	404: "NO_IMPL", 410: "GONE", 429: "OS_LIMIT", 470: "GENERAL", 471: "PERMISSION", 472: "NO_DATA",
	473: "INVALID_PARAMS", 474: "DISCONNECTED", 475: "TERMINAL_PARSE", 476: "WRONG_IP",
	477: "NO_PAGE_FOUND", 478: "INVALID_SESSION_ID", 570: "LARGE_REQUEST", 571: "SERVER_STARTING",
	572: "UNCAUGHT_ERROR",
}

func statusName(code int) string {
	if n, ok := statusNames[code]; ok {
		return n
	}
	return "GENERAL"
}

// disconnectedMsg is the text of every 474: ThetaData's own Python library
// tells a lost upstream connection from other errors by the word
// "disconnected" in it (spx issue 22).
const disconnectedMsg = "the terminal is disconnected from ThetaData; wait for status CONNECTED and retry"

// termError is an error answer: a status code and a message.
type termError struct {
	code int
	msg  string
}

func (e *termError) Error() string { return statusName(e.code) + ": " + e.msg }

func errf(code int, format string, args ...any) *termError {
	return &termError{code: code, msg: fmt.Sprintf(format, args...)}
}

// recorder remembers the status written, for the request counters, and
// paces the body to Latency.BytesPerSecond.
type recorder struct {
	http.ResponseWriter
	code  int
	ctx   context.Context
	rate  int64 // bytes per second, 0 unlimited
	start time.Time
	sent  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.rate <= 0 {
		return w.ResponseWriter.Write(b)
	}
	if w.sent == 0 {
		w.start = time.Now()
	}
	n, err := w.ResponseWriter.Write(b)
	w.sent += int64(n)
	due := w.start.Add(time.Duration(float64(w.sent) / float64(w.rate) * float64(time.Second)))
	if !sleepCtx(w.ctx, time.Until(due)) && err == nil {
		err = w.ctx.Err()
	}
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route is one endpoint: kind decides which limits apply.
type routeKind int

const (
	kindHealth routeKind = iota
	kindList
	kindHistory
)

type route struct {
	kind routeKind
	h    func(w http.ResponseWriter, r *http.Request) *termError
}

// serveRoute applies the terminal's gates in order (client address,
// start-up, disconnect, queue) and then the handler, answering errors in
// the generation's form.
func (s *Sim) serveRoute(w http.ResponseWriter, r *http.Request, statsPath string, rt route, writeErr func(http.ResponseWriter, *termError)) {
	rec := &recorder{ResponseWriter: w, ctx: r.Context()}
	defer func() {
		if rec.code != 0 { // 0: the client left while waiting in line
			s.countRequest(statsPath, rec.code)
		}
	}()
	if !s.checkClient(r) {
		writeErr(rec, errf(476, "requests must all come from the address of the first request; use the same address (127.0.0.1 and localhost differ)"))
		return
	}
	_, disconnected, starting := s.currentFaults()
	if rt.kind == kindHealth {
		if e := rt.h(rec, r); e != nil {
			writeErr(rec, e)
		}
		return
	}
	if starting {
		writeErr(rec, errf(571, "the terminal is starting; wait and retry"))
		return
	}
	if disconnected {
		writeErr(rec, errf(474, disconnectedMsg))
		return
	}
	release, err := s.lim.acquire(r.Context())
	if err != nil {
		if errors.Is(err, errQueueFull) {
			writeErr(rec, errf(429, "too many requests: the request queue is full; back off and retry"))
		}
		return
	}
	defer release()
	if !sleepCtx(r.Context(), s.cfg.Latency.FirstByte) {
		return
	}
	rec.rate = s.cfg.Latency.BytesPerSecond
	if e := rt.h(rec, r); e != nil {
		writeErr(rec, e)
	}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Sim) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Stats())
}

// health is the status word both generations serve.
func (s *Sim) health() string {
	_, disconnected, starting := s.currentFaults()
	switch {
	case starting:
		return "UNVERIFIED"
	case disconnected:
		return "DISCONNECTED"
	}
	return "CONNECTED"
}

// Listen starts the v3 and v2 listeners (an empty address disables that
// generation) and returns their base URLs (http://host:port) and a stop
// function that closes them and every open connection.
func (s *Sim) Listen(v3Addr, v2Addr string) (v3URL, v2URL string, stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		for _, srv := range servers {
			_ = srv.Close()
		}
	}
	start := func(addr string, h http.Handler) (string, error) {
		if addr == "" {
			return "", nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("listening on %s: %w (is another terminal running? pick a free address)", addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), nil
	}
	if v3URL, err = start(v3Addr, s.V3Handler()); err != nil {
		stop()
		return "", "", nil, err
	}
	if v2URL, err = start(v2Addr, s.V2Handler()); err != nil {
		stop()
		return "", "", nil, err
	}
	s.log.Info("simulated Theta Terminal listening", "v3", v3URL, "v2", v2URL, "concurrency", s.cfg.Concurrency, "seed", s.cfg.Seed)
	return v3URL, v2URL, stop, nil
}

// Serve listens on both addresses and blocks until ctx is done.
func (s *Sim) Serve(ctx context.Context, v3Addr, v2Addr string) error {
	if v3Addr == "" && v2Addr == "" {
		return errors.New("no address to listen on: give a v3 or v2 address")
	}
	_, _, stop, err := s.Listen(v3Addr, v2Addr)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stop()
	s.log.Info("simulated Theta Terminal stopped")
	return nil
}
