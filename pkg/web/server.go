package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

//go:embed assets
var assets embed.FS

// Store is the part of the status store the page reads (a subset of
// spx.StatusStore; pkg/statusdb's Store satisfies it).
type Store interface {
	Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error)
	Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error)
	JobsForDate(ctx context.Context, date spx.Date) ([]spx.JobRecord, error)
	Errors(ctx context.Context, limit int) ([]spx.ErrorEntry, error)
}

// Config configures a Server. Store is required; Live and Retrier may be
// nil (the page then says the pipeline is not running, and offers no retry).
type Config struct {
	Store   Store
	Live    Live
	Retrier Retrier
	Logger  *slog.Logger
	// Years shown in the calendar; empty means DefaultYears of the store.
	Years []int
	// Database is the status database path shown in /api/status.
	Database string
	// Terminal reports the Theta Terminal's state for /api/status, the
	// live updates and the page header; nil when nothing watches it here.
	Terminal func() *spx.TerminalStatus
	// NATSStore reports whether the NATS store has room for staged
	// objects, like Terminal; nil when nothing watches it here.
	NATSStore func() *spx.NATSStore
	// Interval between live updates on /api/stream (default 2s).
	Interval time.Duration
	// Now is the clock (default time.Now); it decides which sessions are
	// still to come.
	Now func() time.Time
	// Follow reports the coordinator's calendar following (nil: not shown).
	Follow func() *spx.FollowStatus
	// Access is who may use the page: the Host names it answers to and
	// the credentials it requires. It applies to every request, Metrics
	// included.
	Access Access
	// Metrics, when set, is served on GET /metrics (Prometheus).
	Metrics http.Handler
}

// Server is the web page and its JSON API; it is an http.Handler.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// NewServer builds the page's handler.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	static, _ := fs.Sub(assets, "assets")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.HandleFunc("GET /api/status", s.handleStatus)
	s.mux.HandleFunc("GET /api/days", s.handleDays)
	s.mux.HandleFunc("GET /api/jobs", s.handleJobs)
	s.mux.HandleFunc("GET /api/info", s.handleInfo)
	s.mux.HandleFunc("GET /api/calendar", s.handleCalendar)
	s.mux.HandleFunc("GET /api/errors", s.handleErrors)
	s.mux.HandleFunc("GET /api/live", s.handleLive)
	s.mux.HandleFunc("GET /api/stream", s.handleStream)
	s.mux.HandleFunc("POST /api/retry", s.handleRetry)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	return s
}

// ServeHTTP implements http.Handler. A Host header that is not one of
// Access's names is refused first (421), then a request without the
// credentials Access requires (401).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if !s.cfg.Access.HostAllowed(r.Host) {
		s.log.Warn("refused a request for another host name", "host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
		s.fail(w, http.StatusMisdirectedRequest, fmt.Errorf("this spx page does not answer to host %q: open it by 127.0.0.1, localhost or its IP address, or add the name to web.hosts (SPX_WEB_HOSTS)", r.Host))
		return
	}
	if !s.cfg.Access.authorized(r) {
		s.log.Debug("asked for the page's credentials", "remote", r.RemoteAddr, "path", r.URL.Path)
		h.Set("WWW-Authenticate", `Basic realm="spx", charset="UTF-8"`)
		s.fail(w, http.StatusUnauthorized, errors.New("this spx page needs a user name and password: those of web.user and web.password"))
		return
	}
	s.mux.ServeHTTP(w, r)
}

// ListenAndServe serves on addr (host:port) until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for the web page on %s (is another spx running? choose another --http, or --http=\"\" to turn it off): %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down within 5 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("web page", "url", "http://"+ln.Addr().String()+"/")
	return ServeUntilDone(ctx, ln, s)
}

// ServeUntilDone serves h on ln until ctx ends, then shuts down within 5
// seconds. Request contexts end with ctx, so live streams stop on shutdown.
func ServeUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the web page: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stopping the web page: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the web page: %w", err)
	}
	return nil
}

func (s *Server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("reading the embedded page: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	n := 5
	if v := r.URL.Query().Get("errors"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("errors=%q: give a count of 0 or more", v))
			return
		}
	}
	rep, err := BuildStatusReport(r.Context(), s.cfg.Store, s.cfg.Database, n)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	if s.cfg.Live != nil {
		// Queue depth is shown only when a running cluster reports it.
		if st, err := s.cfg.Live.Snapshot(r.Context()); err == nil {
			rep.Queues = st.Queues
		}
	}
	if s.cfg.Terminal != nil {
		rep.Terminal = s.cfg.Terminal()
	}
	if s.cfg.NATSStore != nil {
		rep.NATSStore = s.cfg.NATSStore()
	}
	if s.cfg.Follow != nil {
		rep.Follow = s.cfg.Follow()
	}
	s.reply(w, rep)
}

func (s *Server) handleDays(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err := dateParam(q, "from", false)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	to, err := dateParam(q, "to", false)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	if !from.IsZero() && !to.IsZero() && from > to {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("from %s is after to %s: the start must not be after the end", from, to))
		return
	}
	failedOnly, _ := strconv.ParseBool(q.Get("failed_only"))
	days, err := s.cfg.Store.Days(r.Context(), from, to)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("reading day records: %w", err))
		return
	}
	recs := make([]spx.DayRecord, 0, len(days))
	for _, d := range days {
		if failedOnly && d.Status != spx.DayFailed && d.Status != spx.DayPartial {
			continue
		}
		recs = append(recs, d)
	}
	s.reply(w, recs)
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	d, err := dateParam(r.URL.Query(), "date", true)
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	jobs, err := s.cfg.Store.JobsForDate(r.Context(), d)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("reading the jobs of %s: %w", d, err))
		return
	}
	if jobs == nil {
		jobs = []spx.JobRecord{}
	}
	s.reply(w, jobs)
}

func (s *Server) years(ctx context.Context) ([]int, error) {
	if len(s.cfg.Years) > 0 {
		return s.cfg.Years, nil
	}
	days, err := s.cfg.Store.Days(ctx, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("reading day records: %w", err)
	}
	return DefaultYears(days, s.cfg.Now()), nil
}

// Info tells the page what to show: the calendar's years and whether the
// retry action is available.
type Info struct {
	Years    []int  `json:"years"`
	Retry    bool   `json:"retry"`
	Database string `json:"database"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	years, err := s.years(r.Context())
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	s.reply(w, Info{Years: years, Retry: s.cfg.Retrier != nil, Database: s.cfg.Database})
}

func (s *Server) handleCalendar(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("year")
	year, err := strconv.Atoi(v)
	if err != nil || year < calendar.MinYear || year > calendar.MaxYear {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("year=%q: give a year in %d-%d", v, calendar.MinYear, calendar.MaxYear))
		return
	}
	days, err := s.cfg.Store.Days(r.Context(), spx.NewDate(year, time.January, 1), spx.NewDate(year, time.December, 31))
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("reading day records of %d: %w", year, err))
		return
	}
	s.reply(w, BuildCoverage(year, days, s.cfg.Now()))
}

func (s *Server) handleErrors(w http.ResponseWriter, r *http.Request) {
	n := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("limit=%q: give a count of 1 or more", v))
			return
		}
	}
	errs, err := s.cfg.Store.Errors(r.Context(), n)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("reading the error log: %w", err))
		return
	}
	out := make([]ErrorView, 0, len(errs))
	for _, e := range errs {
		out = append(out, ErrorView{ErrorEntry: e, Advice: Advice(e)})
	}
	s.reply(w, out)
}

// LiveReply is what /api/live serves and /api/stream sends.
type LiveReply struct {
	Running bool       `json:"running"`
	Error   string     `json:"error,omitempty"`
	Stats   *LiveStats `json:"stats,omitempty"`
	// Days fingerprints the day records (count and latest update) so the
	// page knows when to redraw the calendar.
	Days string `json:"days,omitempty"`
	// Errors fingerprints the error log (its newest entry) so the page
	// reloads the recent errors when one is added that changes no day,
	// such as a terminal outage.
	Errors string `json:"errors,omitempty"`
	// Terminal is the Theta Terminal's state (nil when not watched here).
	Terminal *spx.TerminalStatus `json:"terminal,omitempty"`
	// NATSStore is the NATS store's room (nil when not watched here).
	NATSStore *spx.NATSStore `json:"nats_store,omitempty"`
}

func (s *Server) live(ctx context.Context) LiveReply {
	var rep LiveReply
	if s.cfg.Terminal != nil {
		rep.Terminal = s.cfg.Terminal()
	}
	if s.cfg.NATSStore != nil {
		rep.NATSStore = s.cfg.NATSStore()
	}
	if s.cfg.Live != nil {
		st, err := s.cfg.Live.Snapshot(ctx)
		if err != nil {
			rep.Error = "the pipeline did not answer: " + err.Error()
		} else {
			rep.Running, rep.Stats = true, &st
		}
	}
	if days, err := s.cfg.Store.Days(ctx, 0, 0); err == nil {
		var last time.Time
		for _, d := range days {
			last = latest(last, d.UpdatedAt, d.StartedAt, d.CompletedAt)
		}
		rep.Days = fmt.Sprintf("%d@%d", len(days), last.UnixNano())
	}
	if errs, err := s.cfg.Store.Errors(ctx, 1); err == nil && len(errs) > 0 {
		rep.Errors = fmt.Sprintf("%d@%s/%d", errs[0].Time.UnixNano(), errs[0].Type, len(errs[0].Message))
	}
	return rep
}

func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	s.reply(w, s.live(r.Context()))
}

// handleStream sends a LiveReply as a server-sent event now and then every
// Interval, until the client goes away or the server stops.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		b, err := json.Marshal(s.live(r.Context()))
		if err != nil {
			s.log.Warn("encoding a live update", "err", err)
			return
		}
		if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// RetryReply is what POST /api/retry answers.
type RetryReply struct {
	Date spx.Date `json:"date"`
	Jobs int      `json:"jobs"` // jobs queued again
}

func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Retrier == nil {
		s.fail(w, http.StatusServiceUnavailable, errors.New("retry is not available here: the coordinator is not running in this process; use 'spx retry DATE'"))
		return
	}
	// Only the page's own script may ask: a JSON body cannot be sent
	// cross-site without a preflight we never answer, and a foreign Origin
	// is refused outright.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.fail(w, http.StatusUnsupportedMediaType, errors.New("send the retry as application/json: {\"date\":\"YYYY-MM-DD\"}"))
		return
	}
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			s.fail(w, http.StatusForbidden, fmt.Errorf("retry from origin %q refused: use the page served by spx itself", o))
			return
		}
	}
	var req struct {
		Date spx.Date `json:"date"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<10)).Decode(&req); err != nil || req.Date.IsZero() {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("bad retry request: send {\"date\":\"YYYY-MM-DD\"}"))
		return
	}
	n, err := s.cfg.Retrier.RetryDate(r.Context(), req.Date)
	if spx.IsRefused(err) {
		// Not a session, outside the calendar, or not final yet: nothing
		// was recorded.
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	if err != nil {
		s.fail(w, http.StatusInternalServerError, fmt.Errorf("retrying %s: %w", req.Date, err))
		return
	}
	s.log.Info("retry from the web page", "date", req.Date, "jobs", n)
	s.reply(w, RetryReply{Date: req.Date, Jobs: n})
}

func dateParam(q url.Values, name string, required bool) (spx.Date, error) {
	v := q.Get(name)
	if v == "" {
		if required {
			return 0, fmt.Errorf("%s is missing: give %s=YYYY-MM-DD", name, name)
		}
		return 0, nil
	}
	d, err := spx.ParseDate(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// reply writes v as JSON, one line, like the CLI's --format json.
func (s *Server) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.log.Debug("writing a reply", "err", err)
	}
}

// ErrorReply is the body of every failed API request.
type ErrorReply struct {
	Error string `json:"error"`
}

func (s *Server) fail(w http.ResponseWriter, code int, err error) {
	if code >= 500 {
		s.log.Warn("web request failed", "status", code, "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ErrorReply{Error: strings.TrimSpace(err.Error())})
}
