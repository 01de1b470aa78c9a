package terminalsim

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// Trade dates the tests use. 2024-03-15 is a regular Friday session
// (monthly expiration day), 2024-03-16 a Saturday.
var (
	day0315 = spx.NewDate(2024, 3, 15)
	day0316 = spx.NewDate(2024, 3, 16)
	day0703 = spx.NewDate(2024, 7, 3)
)

// small is a sim with a small universe for fast tests.
func small(t *testing.T, mod func(*Config)) *Sim {
	t.Helper()
	cfg := Config{Seed: 7, MaxExpirations: 3, MaxStrikes: 4}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg)
}

// get runs one request through h in process and returns status, headers
// and body.
func get(t *testing.T, h http.Handler, target string) (int, http.Header, []byte) {
	t.Helper()
	return getFrom(t, h, target, "127.0.0.1:40000")
}

func getFrom(t *testing.T, h http.Handler, target, remote string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return w.Code, w.Result().Header, b
}

// listen starts the sim on random loopback ports.
func listen(t *testing.T, s *Sim) (v3, v2 string) {
	t.Helper()
	v3, v2, stop, err := s.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return v3, v2
}

// readCSV parses a CSV body into its header and rows.
func readCSV(t *testing.T, b []byte) ([]string, [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("body is not CSV: %v\n%.300s", err, b)
	}
	if len(recs) == 0 {
		t.Fatal("empty CSV body")
	}
	return recs[0], recs[1:]
}

// v2Envelope is the v2 JSON answer as a generic client sees it.
type v2Envelope struct {
	Header struct {
		ID        int             `json:"id"`
		LatencyMS int             `json:"latency_ms"`
		ErrorType string          `json:"error_type"`
		ErrorMsg  string          `json:"error_msg"`
		NextPage  string          `json:"next_page"`
		Format    []string        `json:"format"`
		Raw       json.RawMessage `json:"-"`
	} `json:"header"`
	Response []struct {
		Ticks    [][]json.Number `json:"ticks"`
		Contract struct {
			Root       string `json:"root"`
			Expiration int    `json:"expiration"`
			Strike     int64  `json:"strike"`
			Right      string `json:"right"`
		} `json:"contract"`
	} `json:"response"`
}

func decodeV2(t *testing.T, b []byte) v2Envelope {
	t.Helper()
	var env v2Envelope
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&env); err != nil {
		t.Fatalf("v2 body is not the envelope: %v\n%.300s", err, b)
	}
	return env
}

func firstExp(t *testing.T, s *Sim, root string, d spx.Date) spx.Date {
	t.Helper()
	exps := s.Expirations(root, d)
	if len(exps) == 0 {
		t.Fatalf("no %s expirations on %s", root, d)
	}
	return exps[0]
}

func isSession(d spx.Date) bool { return calendar.IsSession(d) }
