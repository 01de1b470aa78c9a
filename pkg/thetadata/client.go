package thetadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Default base URLs of the two terminal generations.
const (
	DefaultV3URL = "http://127.0.0.1:25503"
	DefaultV2URL = "http://127.0.0.1:25510"
)

// Options configures a Client. Zero values take the defaults noted.
type Options struct {
	BaseURL        string        // "" = by generation: v3 http://127.0.0.1:25503, v2 http://127.0.0.1:25510
	API            string        // "auto" (probe v3 health then v2 health; the default), "v3", "v2"
	Token          string        // optional; sent as "Authorization: Bearer <token>" (spx terminal-proxy)
	ConnectTimeout time.Duration // default 3s
	HeaderTimeout  time.Duration // time to response headers, default 30s (terminals queue requests)
	IdleTimeout    time.Duration // max time one body read may block, default 30s
	Timeout        time.Duration // overall per request incl. body and all pages, default 5m
	V2CSV          bool          // v2: use use_csv=true instead of the JSON envelope
	// V3Format is the v3 answer format asked for: "csv" (the default and
	// the fastest to decode), "ndjson" or "json".
	V3Format string
	Logger   *slog.Logger
}

func (o *Options) setDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.V3Format = strings.ToLower(strings.TrimSpace(o.V3Format))
	if o.V3Format == "" {
		o.V3Format = "csv"
	}
	o.API = strings.ToLower(strings.TrimSpace(o.API))
	if o.API == "" {
		o.API = "auto"
	}
}

// Client talks to one Theta Terminal. It is safe for concurrent use.
type Client struct {
	gen  string // "v3" or "v2"
	base string // scheme://host[:port][/prefix], no trailing slash
	o    Options
	http *http.Client
	log  *slog.Logger
}

var _ spx.Source = (*Client)(nil)

// New returns a client for the terminal described by o. With API "auto" it
// probes the v3 health endpoint, then the v2 one, and uses the first that
// answers; the error says which URLs were tried and what to do.
func New(ctx context.Context, o Options) (*Client, error) {
	o.setDefaults()
	base, hint, err := o.check()
	if err != nil {
		return nil, err
	}
	c := &Client{o: o, log: o.Logger, http: newHTTPClient(o)}
	if o.API != "auto" {
		c.gen = o.API
		c.base = base
		if c.base == "" {
			c.base = defaultURL(c.gen)
		}
		return c, nil
	}
	order := []string{"v3", "v2"}
	if hint == "v2" {
		order = []string{"v2", "v3"}
	}
	var tried []string
	var notFound []*Error // answers of a web server that is no terminal
	transient := false
	for _, gen := range order {
		b := base
		if b == "" {
			b = defaultURL(gen)
		}
		c.gen, c.base = gen, b
		pctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout+o.HeaderTimeout)
		_, err := c.Health(pctx)
		cancel()
		if err == nil {
			c.log.Info("theta terminal found", "api", gen, "url", b)
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("probing the theta terminal: %w", ctx.Err())
		}
		if e := (*Error)(nil); errors.As(err, &e) && (e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden) {
			// spx terminal-proxy answers, and refuses this client: the
			// token is the problem, whatever the generation behind it.
			return nil, err
		}
		if spx.ClassOf(err) == spx.ClassTransient {
			transient = true
		}
		if nt := (*notTerminalError)(nil); errors.As(err, &nt) {
			notFound = append(notFound, nt.answers...)
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", b+healthPath(gen), err))
	}
	if len(notFound) == len(order) && base != "" {
		// Not an old terminal (that answers as one): something else.
		return nil, &notTerminalError{base: base, answers: notFound}
	}
	err = fmt.Errorf("no Theta Terminal answered; tried %s: start the Theta Terminal (v3 listens on 25503, v2 on 25510), or set thetadata.base_url (--terminal) to where it listens and thetadata.api to v3 or v2",
		strings.Join(tried, "; "))
	if transient {
		return nil, spx.Transient(err)
	}
	return nil, spx.Permanent(err)
}

// Validate checks o's API generation and base URL without reaching the
// terminal, so a service can refuse a bad configuration at start and still
// start while the terminal is down.
func (o Options) Validate() error {
	o.setDefaults()
	o.Logger = slog.New(slog.DiscardHandler) // New warns about rewrites
	_, _, err := o.check()
	return err
}

func (o *Options) check() (base, hint string, err error) {
	if o.API != "auto" && o.API != "v3" && o.API != "v2" {
		return "", "", spx.Permanent(fmt.Errorf("thetadata.api is %q: use auto, v3 or v2", o.API))
	}
	switch o.V3Format {
	case "csv", "ndjson", "json":
	default:
		return "", "", spx.Permanent(fmt.Errorf("thetadata v3 format is %q: use csv, ndjson or json", o.V3Format))
	}
	return normaliseBase(o.BaseURL, o.Logger)
}

func defaultURL(gen string) string {
	if gen == "v2" {
		return DefaultV2URL
	}
	return DefaultV3URL
}

func healthPath(gen string) string {
	if gen == "v2" {
		return "/v2/system/mdds/status"
	}
	return "/v3/terminal/mdds/status"
}

// normaliseBase checks a base URL, rewrites localhost to 127.0.0.1 (the
// terminal treats them as different client addresses and answers 476) and
// strips a trailing /v3 or /v2, returned as a hint of the generation.
func normaliseBase(raw string, log *slog.Logger) (base, hint string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", nil
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "", spx.Permanent(fmt.Errorf("thetadata.base_url %q is not an http URL: use e.g. http://127.0.0.1:25503", raw))
	}
	if strings.EqualFold(u.Hostname(), "localhost") {
		h := "127.0.0.1"
		if p := u.Port(); p != "" {
			h = net.JoinHostPort(h, p)
		}
		log.Warn("rewriting localhost to 127.0.0.1 in the terminal URL: the terminal treats them as different client addresses (476 WRONG_IP)", "url", raw)
		u.Host = h
	}
	p := strings.TrimRight(u.Path, "/")
	for _, g := range []string{"v3", "v2"} {
		if strings.HasSuffix(p, "/"+g) {
			p, hint = strings.TrimSuffix(p, "/"+g), g
		}
	}
	u.Path, u.RawQuery, u.Fragment, u.User = p, "", "", nil
	return strings.TrimRight(u.String(), "/"), hint, nil
}

func newHTTPClient(o Options) *http.Client {
	d := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 nil, // the terminal is local or behind spx terminal-proxy
		DialContext:           d.DialContext,
		ResponseHeaderTimeout: o.HeaderTimeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr}
}

// Generation returns "v3" or "v2".
func (c *Client) Generation() string { return c.gen }

// BaseURL returns the base URL the client uses (no /v3 or /v2 suffix).
func (c *Client) BaseURL() string { return c.base }

// v3Body is the body of a v3 answer as records reads it: a format=json
// answer is turned into NDJSON.
func (c *Client) v3Body(resp *response) io.Reader {
	if c.o.V3Format == "json" {
		return newV3JSON(resp.Body, resp.url)
	}
	return resp.Body
}

// formatParam is the &format= of a v3 request.
func (c *Client) formatParam() string { return "&format=" + c.o.V3Format }

// Health asks the terminal for its upstream status: CONNECTED, UNVERIFIED,
// DISCONNECTED or ERROR.
func (c *Client) Health(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.ConnectTimeout+c.o.HeaderTimeout)
	defer cancel()
	resp, err := c.get(ctx, healthPath(c.gen))
	if err != nil {
		if e := asNotFound(err); e != nil && !e.terminalBody {
			return "", &notTerminalError{base: c.base, answers: []*Error{e}}
		}
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", spx.Transient(fmt.Errorf("reading terminal status from %s: %w", resp.url, err))
	}
	word := strings.ToUpper(strings.TrimSpace(string(b)))
	switch word {
	case "CONNECTED", "UNVERIFIED", "DISCONNECTED", "ERROR":
		return word, nil
	}
	return "", malformed(resp.url, "status is not CONNECTED, UNVERIFIED, DISCONNECTED or ERROR", b)
}

// response is an open 200 answer whose Body is guarded by the idle watchdog.
type response struct {
	Body    io.ReadCloser
	Header  http.Header
	url     string
	latency time.Duration
}

// get requests pathQuery (starting with /v3 or /v2) and returns the 200
// answer, or an *Error for any other status, or a transient error when the
// terminal cannot be reached. The body's reads are bounded by IdleTimeout.
func (c *Client) get(ctx context.Context, pathQuery string) (*response, error) {
	u := c.base + pathQuery
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		cancel(nil)
		return nil, spx.Permanent(fmt.Errorf("building request %s: %w", u, err))
	}
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		cancel(nil)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("requesting %s: %w", u, context.Cause(ctx))
		}
		return nil, spx.Transient(fmt.Errorf("requesting %s: %w: check that the Theta Terminal is running and thetadata.base_url points at it", u, unwrapURLError(err)))
	}
	c.log.Debug("terminal answered", "url", u, "status", resp.StatusCode, "latency", time.Since(start))
	if resp.StatusCode != http.StatusOK {
		defer cancel(nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, errorFromBody(resp.StatusCode, b, u)
	}
	w := &watchdog{rc: resp.Body, idle: c.o.IdleTimeout, cancel: cancel, ctx: ctx, url: u}
	w.timer = time.AfterFunc(time.Hour, w.fire)
	w.timer.Stop()
	return &response{Body: w, Header: resp.Header, url: u, latency: time.Since(start)}, nil
}

// asNotFound returns the terminal error of a 404 answer, or nil.
func asNotFound(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e.Code == http.StatusNotFound {
		return e
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorFromBody builds the Error of a non-200 answer; a v2 terminal may send
// its JSON envelope, whose error_type and error_msg are used.
func errorFromBody(code int, body []byte, u string) *Error {
	name, msg := "", string(body)
	if env, ok := parseEnvelopeHeader(body); ok {
		if env.ErrorType != "" && env.ErrorType != "null" {
			name = env.ErrorType
		}
		msg = env.ErrorMsg
	}
	// A terminal's answer: its v2 envelope, or ThetaData's name of the
	// code (v3 answers "NO_IMPL: …"); any web server's 404 page is not.
	terminal := false
	if _, ok := parseEnvelopeHeader(body); ok {
		terminal = true
	} else if s, ok := statuses[code]; ok && strings.Contains(string(body), s.name) {
		terminal = true
	}
	if s, ok := statuses[code]; ok {
		name = s.name // the status code is authoritative
	}
	e := newError(code, name, msg, u)
	e.terminalBody = terminal
	return e
}

// watchdog bounds the time a single Read of the body may block: when it
// fires it cancels the request, which unblocks the read, and the read error
// becomes a transient idle-timeout error. Time the caller spends between
// reads does not count.
type watchdog struct {
	rc     io.ReadCloser
	idle   time.Duration
	timer  *time.Timer
	fired  atomic.Bool
	cancel context.CancelCauseFunc
	ctx    context.Context // the caller's context (overall timeout)
	url    string
}

func (w *watchdog) fire() {
	w.fired.Store(true)
	w.cancel(ErrIdleTimeout)
}

func (w *watchdog) Read(p []byte) (int, error) {
	w.timer.Reset(w.idle)
	n, err := w.rc.Read(p)
	w.timer.Stop()
	if err == nil || err == io.EOF {
		return n, err
	}
	switch {
	case w.fired.Load():
		err = spx.Transient(fmt.Errorf("reading %s: the terminal sent nothing for %s (%w): spx retries; raise thetadata idle timeout if the terminal is just slow", w.url, w.idle, ErrIdleTimeout))
	case w.ctx.Err() != nil:
		err = fmt.Errorf("reading %s: %w", w.url, context.Cause(w.ctx))
	default:
		err = spx.Transient(fmt.Errorf("reading %s: response body cut mid-stream (%w: %w): spx retries", w.url, ErrTruncated, err))
	}
	return n, err
}

func (w *watchdog) Close() error {
	w.timer.Stop()
	err := w.rc.Close()
	w.cancel(nil)
	return err
}
