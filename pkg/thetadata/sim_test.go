package thetadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// Client against the simulated terminal (pkg/terminalsim), both generations.

func startSim(t *testing.T, cfg terminalsim.Config) (*terminalsim.Sim, string, string) {
	t.Helper()
	sim := terminalsim.New(cfg)
	v3, v2, stop, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return sim, v3, v2
}

func TestSimAllEndpoints(t *testing.T) {
	cfg := terminalsim.Config{Seed: 7, MaxExpirations: 2, MaxStrikes: 4, TickLimit: 1000}
	sim, v3URL, v2URL := startSim(t, cfg)
	// The same market answering format=json in the columnar shape (the
	// default is the spec's): the client reads both.
	cfg.JSONShape = terminalsim.JSONColumnar
	_, columnarURL, _ := startSim(t, cfg)
	date := spx.NewDate(2024, 3, 14)
	roots := []string{"SPXW", "SPX"}
	clients := []*Client{
		newClient(t, v3URL, "auto"),
		newClient(t, v2URL, "auto"),
		newClient(t, v2URL, "v2", func(o *Options) { o.V2CSV = true }),
		newClient(t, v3URL, "v3", func(o *Options) { o.V3Format = "ndjson" }),
		newClient(t, v3URL, "v3", func(o *Options) { o.V3Format = "json" }),
		newClient(t, columnarURL, "v3", func(o *Options) { o.V3Format = "json" }),
	}
	if clients[0].Generation() != "v3" || clients[1].Generation() != "v2" {
		t.Fatalf("auto probing: %s, %s", clients[0].Generation(), clients[1].Generation())
	}
	// rows[dataset] is the NDJSON of the whole response, per client; every
	// generation must normalise the same market to the same rows.
	rows := map[spx.Dataset][][]byte{}
	for _, c := range clients {
		name := c.Generation()
		if c.o.V2CSV {
			name += "csv"
		}
		if c.gen == "v3" {
			name += c.o.V3Format
		}
		if c.base == columnarURL+"/v3" || c.base == columnarURL {
			name += "-columnar"
		}
		ctx := context.Background()
		if h, err := c.Health(ctx); err != nil || h != "CONNECTED" {
			t.Fatalf("%s: Health %q, %v", name, h, err)
		}
		contracts, err := c.Contracts(ctx, date, roots)
		if err != nil || len(contracts) == 0 {
			t.Fatalf("%s: Contracts: %d, %v", name, len(contracts), err)
		}
		for _, root := range roots {
			want := sim.Expirations(root, date)
			var got []spx.Date
			for _, k := range contracts {
				if k.Root == root && !slices.Contains(got, k.Expiration) {
					got = append(got, k.Expiration)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s expirations from contracts %v, sim says %v", name, root, got, want)
			}
			all, err := c.Expirations(ctx, root)
			if err != nil || len(all) == 0 {
				t.Fatalf("%s: Expirations: %v", name, err)
			}
			for _, e := range want {
				if !slices.Contains(all, e) {
					t.Errorf("%s: Expirations lacks %s", name, e)
				}
				dates, err := c.ExpirationDates(ctx, root, e)
				if err != nil || !slices.Contains(dates, date) {
					t.Errorf("%s: ExpirationDates(%s %s) = %d dates without %s, %v", name, root, e, len(dates), date, err)
				}
			}
		}
		exp := sim.Expirations("SPXW", date)[0]
		for _, ds := range spx.Datasets {
			req := spx.HistoryRequest{Dataset: ds, Root: "SPXW", Date: date, Expiration: exp}
			s, err := c.History(ctx, req)
			if err != nil {
				t.Fatalf("%s %s: %v", name, ds, err)
			}
			var out []byte
			n := 0
			for s.Next() {
				n++
				out = spx.AppendNDJSON(out, ds, s.Row())
			}
			if err := s.Err(); err != nil {
				t.Fatalf("%s %s: %v", name, ds, err)
			}
			s.Close()
			want := sim.ExpectedRows(ds, "SPXW", date, exp)
			if int64(n) != want || want == 0 {
				t.Errorf("%s %s: %d rows, sim says %d", name, ds, n, want)
			}
			if c.gen == "v2" && want > 3000 && s.Info().Pages < 3 {
				t.Errorf("%s %s: %d pages for %d rows at tick limit 1000", name, ds, s.Info().Pages, want)
			}
			rows[ds] = append(rows[ds], out)
		}
	}
	for ds, outs := range rows {
		for i := range outs {
			// v3 writes every decimal (6.70), v2 trims them (6.7): the same
			// numbers, compared without the trailing zeros.
			outs[i] = bareDot.ReplaceAll(trailingZeros.ReplaceAll(outs[i], []byte(".$1$2")), []byte("$1"))
			if ds == spx.OHLC { // v2 does not serve the optional vwap
				outs[i] = vwap.ReplaceAll(outs[i], []byte(`"vwap":null}`))
			}
		}
		for i := 1; i < len(outs); i++ {
			if !bytes.Equal(outs[0], outs[i]) {
				a, b := firstDiff(outs[0], outs[i])
				t.Errorf("%s: client %d normalises differently from v3:\n v3 %s\nnow %s", ds, i, a, b)
			}
		}
	}
}

var (
	vwap          = regexp.MustCompile(`"vwap":[-0-9.eE+]+}`)
	trailingZeros = regexp.MustCompile(`\.([0-9]*?)0+([,}\]])`)
	bareDot       = regexp.MustCompile(`\.([,}\]])`)
)

func firstDiff(a, b []byte) (string, string) {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return string(la[i]), string(lb[i])
		}
	}
	return fmt.Sprintf("%d lines", len(la)), fmt.Sprintf("%d lines", len(lb))
}

func TestSimFaults(t *testing.T) {
	date := spx.NewDate(2024, 3, 14)
	tests := []struct {
		name   string
		faults terminalsim.Faults
		check  func(error) bool
	}{
		{"truncate", terminalsim.Faults{TruncateRate: 1}, func(err error) bool { return errors.Is(err, ErrTruncated) }},
		{"reset", terminalsim.Faults{ResetRate: 1}, func(err error) bool { return errors.Is(err, ErrTruncated) }},
		{"stall", terminalsim.Faults{StallRate: 1}, func(err error) bool { return errors.Is(err, ErrIdleTimeout) }},
		{"disconnected", terminalsim.Faults{Disconnect: time.Hour}, func(err error) bool {
			var te *Error
			return errors.As(err, &te) && te.Code == 474
		}},
		{"no data", terminalsim.Faults{}, func(err error) bool { return errors.Is(err, spx.ErrNoData) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, v3URL, v2URL := startSim(t, terminalsim.Config{Seed: 7, MaxExpirations: 1, MaxStrikes: 4, TickLimit: 1000, Faults: tt.faults})
			exp := sim.Expirations("SPXW", date)[0]
			if tt.name == "no data" {
				exp = exp.AddDays(365 * 3) // not listed on that date
			}
			for _, c := range []*Client{
				newClient(t, v3URL, "v3", func(o *Options) { o.IdleTimeout = 300 * time.Millisecond }),
				newClient(t, v2URL, "v2", func(o *Options) { o.IdleTimeout = 300 * time.Millisecond }),
				newClient(t, v2URL, "v2", func(o *Options) { o.IdleTimeout = 300 * time.Millisecond; o.V2CSV = true }),
			} {
				s, err := c.History(context.Background(), spx.HistoryRequest{Dataset: spx.Greeks, Root: "SPXW", Date: date, Expiration: exp})
				n := 0
				if err == nil {
					n, _, err = drain(t, s, spx.Greeks)
				}
				want := spx.ClassTransient
				if tt.name == "no data" {
					want = spx.ClassEmpty
				}
				if !tt.check(err) || spx.ClassOf(err) != want {
					t.Errorf("%s csv=%v: err %v (class %s) after %d rows", c.gen, c.o.V2CSV, err, spx.ClassOf(err), n)
				}
			}
		})
	}
}
