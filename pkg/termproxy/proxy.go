package termproxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Paths the proxy answers itself; the terminal's read-only endpoints are
// forwarded, every other path refused.
const (
	StatsPath  = "/proxy/stats"  // JSON Stats; needs the token
	HealthPath = "/proxy/health" // "ok <terminal status word>"; no token
)

// Defaults for Config's zero values.
const (
	DefaultMaxIdleConns  = 32
	DefaultHeaderTimeout = 5 * time.Minute
	DefaultDialTimeout   = 3 * time.Second
)

// StatusClientClosed is recorded in Stats.RequestsByStatus when the client
// went away before the terminal answered (nginx's convention).
const StatusClientClosed = 499

const (
	copyBufferSize = 32 << 10
	healthTimeout  = 3 * time.Second
	shutdownGrace  = 30 * time.Second
)

// Config configures a Proxy.
type Config struct {
	Terminal string // terminal base URL, e.g. http://127.0.0.1:25503 (required)
	Token    string // bearer token clients must send; "" = no authentication (loopback only)
	Logger   *slog.Logger
	// MaxIdleConns is how many keep-alive connections to the terminal are
	// kept open between requests (default 32).
	MaxIdleConns int
	// HeaderTimeout bounds the wait for the terminal's response headers; the
	// terminal queues requests beyond its concurrency (default 5m).
	HeaderTimeout time.Duration
	// DialTimeout bounds connecting to the terminal (default 3s).
	DialTimeout time.Duration
}

// Stats is a snapshot of the proxy's counters (GET /proxy/stats).
type Stats struct {
	Terminal         string        `json:"terminal"`
	InFlight         int64         `json:"in_flight"`          // forwarded requests open now
	MaxInFlight      int64         `json:"max_in_flight"`      // most open at once since start
	Requests         int64         `json:"requests"`           // answered requests (forwarded or refused)
	RequestsByStatus map[int]int64 `json:"requests_by_status"` // by HTTP status; 499 = client went away
	Bytes            int64         `json:"bytes"`              // response body bytes streamed to clients
	UpstreamErrors   int64         `json:"upstream_errors"`    // terminal unreachable or body cut
	Since            time.Time     `json:"since"`
}

// Proxy forwards requests to one Theta Terminal. It is an http.Handler and
// safe for concurrent use.
type Proxy struct {
	target    *url.URL
	auth      bool
	tokenSum  [sha256.Size]byte
	log       *slog.Logger
	transport *http.Transport
	bufs      sync.Pool
	since     time.Time

	inFlight, maxInFlight, requests, bytes, upstreamErrors atomic.Int64

	mu       sync.Mutex
	byStatus map[int]int64
}

var _ http.Handler = (*Proxy)(nil)

// New returns a proxy for the terminal at c.Terminal.
func New(c Config) (*Proxy, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxIdleConns <= 0 {
		c.MaxIdleConns = DefaultMaxIdleConns
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	target, err := parseTerminal(c.Terminal)
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(c.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("%w: the token contains spaces or control characters: use printable characters only (e.g. openssl rand -hex 32)", ErrConfig)
	}
	if strings.EqualFold(target.Hostname(), "localhost") {
		c.Logger.Warn("terminal address uses localhost: the terminal accepts one client address and may see ::1 or 127.0.0.1; prefer http://127.0.0.1", "terminal", target.Redacted())
	}
	p := &Proxy{
		target:   target,
		auth:     c.Token != "",
		tokenSum: sha256.Sum256([]byte(c.Token)),
		log:      c.Logger,
		since:    time.Now(),
		byStatus: map[int]int64{},
		transport: &http.Transport{
			Proxy:                 nil, // the terminal is local: never go through HTTP_PROXY
			DialContext:           (&net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          c.MaxIdleConns,
			MaxIdleConnsPerHost:   c.MaxIdleConns,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: c.HeaderTimeout,
			DisableCompression:    true, // pass Accept-Encoding and bodies through as they are
			ReadBufferSize:        copyBufferSize,
		},
	}
	p.bufs.New = func() any { b := make([]byte, copyBufferSize); return &b }
	return p, nil
}

func parseTerminal(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: no terminal address: pass --terminal, e.g. http://127.0.0.1:25503 (v3) or http://127.0.0.1:25510 (v2)", ErrConfig)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: terminal address %q is not an http URL: use e.g. http://127.0.0.1:25503", ErrConfig, s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	// A base URL given with the generation suffix (…/v3) would double it.
	for _, suffix := range []string{"/v3", "/v2"} {
		u.Path = strings.TrimSuffix(u.Path, suffix)
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u, nil
}

// Terminal returns the terminal base URL requests are forwarded to.
func (p *Proxy) Terminal() string { return p.target.String() }

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	s := Stats{
		Terminal:         p.target.String(),
		InFlight:         p.inFlight.Load(),
		MaxInFlight:      p.maxInFlight.Load(),
		Requests:         p.requests.Load(),
		Bytes:            p.bytes.Load(),
		UpstreamErrors:   p.upstreamErrors.Load(),
		Since:            p.since,
		RequestsByStatus: map[int]int64{},
	}
	p.mu.Lock()
	for k, v := range p.byStatus {
		s.RequestsByStatus[k] = v
	}
	p.mu.Unlock()
	return s
}

func (p *Proxy) count(status int) {
	p.requests.Add(1)
	p.mu.Lock()
	p.byStatus[status]++
	p.mu.Unlock()
}

// ServeHTTP answers /proxy/health and /proxy/stats itself and forwards GET
// and HEAD of the terminal's read-only endpoints (see refusal) to the
// terminal; anything else is refused with 405 or 403. A terminal body that
// breaks off midway aborts the response (http.ErrAbortHandler) so the
// client sees a cut body, not a short one that looks complete.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == HealthPath {
		p.serveHealth(w, r)
		return
	}
	if !p.authorized(r) {
		p.count(http.StatusUnauthorized)
		p.log.Warn("refused request without the right token", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", `Bearer realm="spx terminal-proxy"`)
		http.Error(w, "missing or wrong proxy token: send 'Authorization: Bearer <token>' with the token spx terminal-proxy was started with", http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == StatsPath:
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.Stats())
	case strings.HasPrefix(r.URL.Path, "/proxy/"):
		http.Error(w, "unknown proxy path "+r.URL.Path+": the proxy answers "+StatsPath+" and "+HealthPath+"; the terminal's read-only endpoints go to the terminal", http.StatusNotFound)
	default:
		if code, why := refusal(r); code != 0 {
			p.count(code)
			p.log.Warn("refused a request the proxy does not forward", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.EscapedPath(), "status", code)
			if code == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", "GET, HEAD")
			}
			http.Error(w, why, code)
			return
		}
		p.forward(w, r)
	}
}

func (p *Proxy) authorized(r *http.Request) bool {
	if !p.auth {
		return true
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	// Comparing digests keeps the comparison constant-time in the length too.
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], p.tokenSum[:]) == 1
}

// hopHeaders are meaningful for one connection only and are not forwarded
// (RFC 9110 §7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func (p *Proxy) upstreamRequest(r *http.Request) (*http.Request, error) {
	u := *p.target
	u.Path = p.target.Path + r.URL.Path
	if r.URL.RawPath != "" {
		u.RawPath = p.target.EscapedPath() + r.URL.RawPath
	}
	u.RawQuery = r.URL.RawQuery
	body := r.Body
	if r.ContentLength == 0 {
		body = nil
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building the terminal request: %w", err)
	}
	out.ContentLength = r.ContentLength
	out.Header = r.Header.Clone()
	removeHopHeaders(out.Header)
	out.Header.Del("Authorization") // the proxy's token is not the terminal's business
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // do not add Go's default
	}
	return out, nil
}

func (p *Proxy) enter() {
	n := p.inFlight.Add(1)
	for {
		m := p.maxInFlight.Load()
		if n <= m || p.maxInFlight.CompareAndSwap(m, n) {
			return
		}
	}
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	p.enter()
	defer p.inFlight.Add(-1)
	start := time.Now()
	log := p.log.With("remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)

	out, err := p.upstreamRequest(r)
	if err != nil {
		p.count(http.StatusBadRequest)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		if r.Context().Err() != nil {
			p.count(StatusClientClosed)
			log.Debug("client went away before the terminal answered")
			return
		}
		p.upstreamErrors.Add(1)
		p.count(http.StatusServiceUnavailable)
		log.Warn("terminal unreachable", "terminal", p.target.String(), "err", err)
		// 503 is transient for spx fetchers (5xx): they retry with back-off.
		http.Error(w, fmt.Sprintf("terminal at %s unreachable: %v (is the Theta Terminal running on the proxy's host? check spx terminal-proxy --terminal)", p.target, err), http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	removeHopHeaders(h)
	if _, ok := resp.Header["Content-Type"]; !ok {
		h["Content-Type"] = nil // pass "no type" on: do not let net/http sniff one
	}
	if np := resp.Header.Get("Next-Page"); np != "" {
		h.Set("Next-Page", p.rewriteNextPage(np, r))
	}
	w.WriteHeader(resp.StatusCode)
	p.count(resp.StatusCode)

	n, err := p.stream(w, resp.Body)
	switch {
	case err == nil:
		log.Debug("forwarded", "status", resp.StatusCode, "bytes", n, "duration", time.Since(start))
	case r.Context().Err() != nil || errors.Is(err, errClientWrite):
		log.Debug("client went away mid-body", "status", resp.StatusCode, "bytes", n, "err", err)
	default:
		p.upstreamErrors.Add(1)
		log.Warn("terminal body broke off; cutting the client's response", "status", resp.StatusCode, "bytes", n, "err", err)
		panic(http.ErrAbortHandler)
	}
}

var errClientWrite = errors.New("writing to the client")

// stream copies body to w with a small buffer, flushing after every read so
// rows reach the client as the terminal produces them.
func (p *Proxy) stream(w http.ResponseWriter, body io.Reader) (int64, error) {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	buf := *bp
	rc := http.NewResponseController(w)
	canFlush := true
	var total int64
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, fmt.Errorf("%w: %w", errClientWrite, err)
			}
			total += int64(n)
			p.bytes.Add(int64(n))
			if canFlush {
				if err := rc.Flush(); errors.Is(err, http.ErrNotSupported) {
					canFlush = false
				} else if err != nil {
					return total, fmt.Errorf("%w: %w", errClientWrite, err)
				}
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, fmt.Errorf("reading the terminal's body: %w", rerr)
		}
	}
}

// rewriteNextPage points an absolute v2 Next-Page URL, which names the
// terminal's own address, at the proxy as the client reached it.
func (p *Proxy) rewriteNextPage(v string, r *http.Request) string {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || u.Host == "" || r.Host == "" {
		return v // "null", relative, or nothing to rewrite to
	}
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	u.Host = r.Host
	if p.target.Path != "" {
		u.Path = strings.TrimPrefix(u.Path, p.target.Path)
		u.RawPath = ""
	}
	return u.String()
}

// serveHealth answers "ok <status word>" with the terminal's upstream status,
// asking the v3 health path first and the v2 one second.
func (p *Proxy) serveHealth(w http.ResponseWriter, r *http.Request) {
	var errs []string
	for _, path := range []string{"/v3/terminal/mdds/status", "/v2/system/mdds/status"} {
		word, err := p.terminalStatus(r.Context(), path)
		if err == nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "ok %s\n", word)
			return
		}
		errs = append(errs, fmt.Sprintf("%s: %v", path, err))
	}
	http.Error(w, fmt.Sprintf("terminal at %s unreachable: %s (is the Theta Terminal running on the proxy's host?)", p.target, strings.Join(errs, "; ")), http.StatusServiceUnavailable)
}

func (p *Proxy) terminalStatus(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	u := *p.target
	u.Path = p.target.Path + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	word := strings.TrimSpace(string(body))
	if word == "" {
		return "", errors.New("empty status")
	}
	return word, nil
}

// ListenAndServe listens on addr and serves until ctx is done, then shuts
// down gracefully: it stops accepting, lets open responses finish for up to
// 30 s, then closes them. It refuses a non-loopback addr without a token.
func (p *Proxy) ListenAndServe(ctx context.Context, addr string) error {
	if !p.auth {
		if err := CheckListen(addr, ""); err != nil {
			return err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another spx terminal-proxy running? pick another --listen port)", addr, err)
	}
	return p.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done (see ListenAndServe). It closes ln.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	p.log.Info("terminal proxy listening", "addr", ln.Addr().String(), "terminal", p.target.String(), "auth", p.auth)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	defer p.transport.CloseIdleConnections()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the terminal proxy: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		p.log.Warn("open responses did not finish in time; closing them", "err", err)
		_ = srv.Close()
	}
	<-errc
	p.log.Info("terminal proxy stopped", "requests", p.requests.Load())
	return nil
}
