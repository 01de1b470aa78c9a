package thetadata

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/termproxy"
)

// Through spx terminal-proxy: the token is sent, and v2 pages are requested
// on the proxy (the client's base URL), not on the terminal's own address.
func TestThroughTerminalProxy(t *testing.T) {
	sim, _, v2URL := startSim(t, terminalsim.Config{Seed: 3, MaxExpirations: 1, MaxStrikes: 4, TickLimit: 1000, OneClientIP: true})
	p, err := termproxy.New(termproxy.Config{Terminal: v2URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	date := spx.NewDate(2024, 3, 14)
	exp := sim.Expirations("SPXW", date)[0]
	req := spx.HistoryRequest{Dataset: spx.Greeks, Root: "SPXW", Date: date, Expiration: exp}

	c := newClient(t, srv.URL, "auto", func(o *Options) { o.Token = "tok" })
	if c.Generation() != "v2" {
		t.Fatalf("generation %s through the proxy", c.Generation())
	}
	s, err := c.History(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := drain(t, s, spx.Greeks)
	if err != nil || int64(n) != sim.ExpectedRows(spx.Greeks, "SPXW", date, exp) || s.Info().Pages < 3 {
		t.Fatalf("%d rows over %d pages, %v; sim says %d", n, s.Info().Pages, err, sim.ExpectedRows(spx.Greeks, "SPXW", date, exp))
	}

	bad := newClient(t, srv.URL, "v2", func(o *Options) { o.Token = "wrong" })
	_, err = bad.History(context.Background(), req)
	var te *Error
	if !errors.As(err, &te) || te.Code != 401 || spx.ClassOf(err) != spx.ClassPermanent || !strings.Contains(err.Error(), "token spx terminal-proxy was started with") {
		t.Errorf("wrong token: %v", err)
	}
	// Finding the terminal through the proxy with a wrong token says the
	// token is wrong, not that no terminal runs.
	_, err = New(context.Background(), Options{BaseURL: srv.URL, Token: "wrong"})
	if !errors.As(err, &te) || te.Code != 401 || !strings.Contains(err.Error(), "thetadata.token") || strings.Contains(err.Error(), "start the Theta Terminal") {
		t.Errorf("auto probe with a wrong token: %v", err)
	}
}
