package termproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/thetadata"
)

// remoteClient dials from 127.0.0.2, standing in for a fetcher on another
// machine (every 127/8 address is loopback on Linux).
func remoteClient(t *testing.T) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 3 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func remoteGet(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestThroughSimulatedTerminalWithOneClientIP: a terminal that serves one
// client address answers 476 to a second machine, but serves every machine
// through the proxy, both generations, v2 pagination included.
func TestThroughSimulatedTerminalWithOneClientIP(t *testing.T) {
	sim := terminalsim.New(terminalsim.Config{Seed: 1, OneClientIP: true, MaxExpirations: 2, MaxStrikes: 5, TickLimit: 500})
	v3URL, v2URL, stop, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	p3 := startFor(t, v3URL, testToken, nil)
	p2 := startFor(t, v2URL, testToken, nil)
	date := spx.NewDate(2024, 3, 14)
	exp := sim.Expirations("SPXW", date)[0]
	list := "/v3/option/list/expirations?symbol=SPXW"

	// The proxy is the terminal's first client.
	remote := remoteClient(t)
	if code, body := remoteGet(t, remote, p3.url+list, testToken); code != 200 || !strings.Contains(body, "SPXW") {
		t.Fatalf("remote machine through the proxy: %d %q", code, body)
	}
	if code, body := remoteGet(t, remote, v3URL+list, ""); code != 476 {
		t.Fatalf("remote machine directly: %d %q, want 476 WRONG_IP (the simulator's rule is off?)", code, body)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		url  string
	}{{"v3", p3.url}, {"v2", p2.url}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := thetadata.New(ctx, thetadata.Options{BaseURL: tc.url, API: "auto", Token: testToken})
			if err != nil {
				t.Fatal(err)
			}
			if c.Generation() != tc.name {
				t.Fatalf("probed %s through the proxy, want %s", c.Generation(), tc.name)
			}
			s, err := c.History(ctx, spx.HistoryRequest{Dataset: spx.Greeks, Root: "SPXW", Date: date, Expiration: exp})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			n := 0
			for s.Next() {
				n++
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if want := sim.ExpectedRows(spx.Greeks, "SPXW", date, exp); int64(n) != want || want == 0 {
				t.Errorf("%d rows through the proxy, the terminal has %d", n, want)
			}
			if tc.name == "v2" && s.Info().Pages < 2 {
				t.Errorf("%d pages at tick limit 500: pagination through the proxy not exercised", s.Info().Pages)
			}
		})
	}
	refused := int64(0)
	for _, byStatus := range sim.Stats().Requests {
		refused += byStatus["476"]
	}
	if refused != 1 {
		t.Errorf("the terminal answered 476 %d times, want once (the direct request): the proxy must always come from one address", refused)
	}
}
