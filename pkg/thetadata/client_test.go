package thetadata

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

func TestClassOfStatus(t *testing.T) {
	tests := []struct {
		code  int
		class spx.ErrorClass
		name  string
		says  string // part of the advice
	}{
		{200, spx.ClassOK, "", ""},
		{404, spx.ClassPermanent, "NO_IMPL", "upgrade"},
		{429, spx.ClassTransient, "OS_LIMIT", "back off"},
		{470, spx.ClassTransient, "GENERAL", "retry"},
		{471, spx.ClassPermanent, "PERMISSION", "subscription tier does not include this data"},
		{472, spx.ClassEmpty, "NO_DATA", "empty"},
		{473, spx.ClassPermanent, "INVALID_PARAMS", "check the dataset"},
		{474, spx.ClassTransient, "DISCONNECTED", "CONNECTED"},
		{475, spx.ClassPermanent, "TERMINAL_PARSE", "upgrade"},
		{476, spx.ClassPermanent, "WRONG_IP", "use 127.0.0.1, not localhost; only one client address may use the terminal"},
		{477, spx.ClassTransient, "NO_PAGE_FOUND", "page 1"},
		{478, spx.ClassPermanent, "INVALID_SESSION_ID", "two terminals are running with the same account: stop one"},
		{500, spx.ClassTransient, "HTTP_500", "retries"},
		{503, spx.ClassTransient, "HTTP_503", "retries"},
		{570, spx.ClassSplit, "LARGE_REQUEST", "ask for less"},
		{571, spx.ClassTransient, "SERVER_STARTING", "wait"},
		{572, spx.ClassTransient, "UNCAUGHT_ERROR", "restart the terminal"},
		{418, spx.ClassPermanent, "HTTP_418", "unexpected answer"},
	}
	for _, tt := range tests {
		if got := ClassOfStatus(tt.code); got != tt.class {
			t.Errorf("ClassOfStatus(%d) = %s, want %s", tt.code, got, tt.class)
		}
		if tt.code == 200 {
			continue
		}
		// Through the wire: History must return an *Error with the class and
		// a message that names the status and says what to do.
		srv := newTerminal(t, map[string]http.HandlerFunc{"/": text(tt.code, "  server text  \n")})
		c := newClient(t, srv.URL, "v3")
		_, err := c.History(context.Background(), greeksReq())
		var te *Error
		if !errors.As(err, &te) {
			t.Fatalf("%d: History error %v is not *Error", tt.code, err)
		}
		if te.Code != tt.code || te.Name != tt.name || te.Class != tt.class || te.Msg != "server text" || !strings.Contains(te.URL, "/v3/option/history/greeks/first_order?") {
			t.Errorf("%d: got %+v", tt.code, te)
		}
		if spx.ClassOf(err) != tt.class {
			t.Errorf("%d: ClassOf = %s, want %s", tt.code, spx.ClassOf(err), tt.class)
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.name) || !strings.Contains(msg, tt.says) || !strings.Contains(msg, "server text") {
			t.Errorf("%d: message %q lacks %q or %q", tt.code, msg, tt.name, tt.says)
		}
		if errors.Is(err, spx.ErrNoData) != (tt.code == 472) {
			t.Errorf("%d: errors.Is(err, spx.ErrNoData) wrong", tt.code)
		}
	}
}

func TestV2EnvelopeErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		code   int
		class  spx.ErrorClass
	}{
		{"200 with error_type", 200, `{"header":{"id":0,"latency_ms":1,"error_type":"NO_DATA","error_msg":"No data for the request","next_page":"null","format":null},"response":[]}`, 472, spx.ClassEmpty},
		{"200 with permission", 200, `{"header":{"error_type":"PERMISSION","error_msg":"upgrade","next_page":"null"},"response":[]}`, 471, spx.ClassPermanent},
		{"status with envelope", 570, `{"header":{"error_type":"LARGE_REQUEST","error_msg":"too big","next_page":"null"},"response":[]}`, 570, spx.ClassSplit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTerminal(t, map[string]http.HandlerFunc{"/": text(tt.status, tt.body)})
			c := newClient(t, srv.URL, "v2")
			_, err := c.History(context.Background(), greeksReq())
			var te *Error
			if !errors.As(err, &te) || te.Code != tt.code || spx.ClassOf(err) != tt.class {
				t.Fatalf("got %v (%+v), want code %d class %s", err, te, tt.code, tt.class)
			}
			if te.Msg == "" || strings.HasPrefix(te.Msg, "{") {
				t.Errorf("Msg = %q, want the envelope's error_msg", te.Msg)
			}
			// The list endpoints read the same envelope.
			_, err = c.Expirations(context.Background(), "SPXW")
			if !errors.As(err, &te) || te.Code != tt.code {
				t.Errorf("Expirations: got %v, want code %d", err, tt.code)
			}
		})
	}
}

func TestLocalhostRewrite(t *testing.T) {
	tests := []struct{ in, want, hint string }{
		{"http://localhost:25503", "http://127.0.0.1:25503", ""},
		{"localhost:25510/v2", "http://127.0.0.1:25510", "v2"},
		{"http://LOCALHOST:25503/v3/", "http://127.0.0.1:25503", "v3"},
		{"http://127.0.0.1:25503", "http://127.0.0.1:25503", ""},
		{"https://proxy.example:8443/terminal", "https://proxy.example:8443/terminal", ""},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		got, hint, err := normaliseBase(tt.in, logBuffer(&buf))
		if err != nil || got != tt.want || hint != tt.hint {
			t.Errorf("normaliseBase(%q) = %q, %q, %v; want %q, %q", tt.in, got, hint, err, tt.want, tt.hint)
		}
		warned := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "127.0.0.1")
		if warned != strings.Contains(strings.ToLower(tt.in), "localhost") {
			t.Errorf("normaliseBase(%q): warning logged = %v: %q", tt.in, warned, buf.String())
		}
	}
	var buf bytes.Buffer
	c, err := New(context.Background(), Options{BaseURL: "http://localhost:25503", API: "v3", Logger: logBuffer(&buf)})
	if err != nil || c.BaseURL() != "http://127.0.0.1:25503" || c.Generation() != "v3" {
		t.Fatalf("New: %v, %v", c, err)
	}
	if _, _, err := normaliseBase("ftp://x", logBuffer(&buf)); spx.ClassOf(err) != spx.ClassPermanent {
		t.Errorf("ftp URL: %v", err)
	}
}

func TestAutoProbe(t *testing.T) {
	v3 := newTerminal(t, map[string]http.HandlerFunc{"/v3/terminal/mdds/status": text(200, "CONNECTED")})
	v2 := newTerminal(t, map[string]http.HandlerFunc{"/v2/system/mdds/status": text(200, "DISCONNECTED\n")})
	both := newTerminal(t, map[string]http.HandlerFunc{
		"/v3/terminal/mdds/status": text(200, "CONNECTED"),
		"/v2/system/mdds/status":   text(200, "CONNECTED"),
	})
	for _, tt := range []struct {
		base, want string
	}{{v3.URL, "v3"}, {v2.URL, "v2"}, {both.URL, "v3"}, {both.URL + "/v2", "v2"}} {
		c := newClient(t, tt.base, "auto")
		if c.Generation() != tt.want {
			t.Errorf("auto on %s: %s, want %s", tt.base, c.Generation(), tt.want)
		}
	}
	c := newClient(t, v2.URL, "")
	if h, err := c.Health(context.Background()); err != nil || h != "DISCONNECTED" {
		t.Errorf("Health = %q, %v", h, err)
	}

	// Nothing listening: the error names both URLs tried and what to do.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, err = New(context.Background(), Options{BaseURL: dead})
	if err == nil {
		t.Fatal("New on a closed port succeeded")
	}
	msg := err.Error()
	for _, want := range []string{dead + "/v3/terminal/mdds/status", dead + "/v2/system/mdds/status", "start the Theta Terminal", "thetadata.base_url"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if spx.ClassOf(err) != spx.ClassTransient {
		t.Errorf("class %s, want transient", spx.ClassOf(err))
	}
	// A web server that is no terminal (404 on both, its own page) is
	// called that, not an old terminal; with a fixed API too.
	other := newTerminal(t, map[string]http.HandlerFunc{"/": text(404, "<html><h1>File not found</h1></html>")})
	for _, api := range []string{"auto", "v3", "v2"} {
		c, err := New(context.Background(), Options{BaseURL: other.URL, API: api})
		if err == nil {
			_, err = c.Health(context.Background())
		}
		if want := "something answers at " + other.URL + " but it is not a Theta Terminal"; err == nil || !strings.Contains(err.Error(), want) ||
			!errors.Is(err, ErrNotTerminal) || strings.Contains(err.Error(), "too old") || spx.ClassOf(err) != spx.ClassPermanent {
			t.Errorf("api %s on a web server: %v; want %q, permanent", api, err, want)
		}
	}
	// A terminal that knows neither status endpoint answers as a terminal
	// (ThetaData's NO_IMPL): that one is too old.
	old := newTerminal(t, map[string]http.HandlerFunc{"/": text(404, "NO_IMPL: no such endpoint")})
	if _, err := New(context.Background(), Options{BaseURL: old.URL}); err == nil || errors.Is(err, ErrNotTerminal) || !strings.Contains(err.Error(), "terminal too old") {
		t.Errorf("New on a terminal without status endpoints: %v", err)
	}
	if _, err := New(context.Background(), Options{API: "v4"}); err == nil {
		t.Error("api v4 accepted")
	}
}

func TestTokenAndLocalhostOnWire(t *testing.T) {
	var auth string
	srv := newTerminal(t, map[string]http.HandlerFunc{"/v3/terminal/mdds/status": func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Write([]byte("CONNECTED"))
	}})
	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c := newClient(t, local, "auto", func(o *Options) { o.Token = "s3cret" })
	if c.BaseURL() != srv.URL {
		t.Errorf("BaseURL %s, want %s", c.BaseURL(), srv.URL)
	}
	if auth != "Bearer s3cret" {
		t.Errorf("Authorization %q", auth)
	}
}
