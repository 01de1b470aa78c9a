package cli

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/terminalsim"
)

// TestConfigValidateDeep runs `config validate --deep` against the
// simulator: a faithful one passes with every list and history endpoint
// exercised; one whose history answers carry a column spx does not know
// (terminalsim's bad-data "header") is reported, endpoint by endpoint.
func TestConfigValidateDeep(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  string
	}{{"faithful", ""}, {"wrong header", terminalsim.BadHeader}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := terminalsim.New(terminalsim.Config{Seed: 3, MaxExpirations: 2, MaxStrikes: 2, Faults: terminalsim.Faults{BadData: tc.bad}})
			v3, _, stop, err := sim.Listen("127.0.0.1:0", "")
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			dir := t.TempDir()
			t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
			t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
			code, out, stderr := storeRunSPX(t, "--db", filepath.Join(dir, "spx.db"), "--terminal", v3, "--output-dir", filepath.Join(dir, "out"),
				"config", "validate", "--deep", "--deep-root", "SPXW", "--deep-date", "2024-03-15", "--format", "json")
			var rep validateReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %q %q", err, out, stderr)
			}
			if len(rep.Deep) != 16 {
				t.Fatalf("%d deep checks, want 16 (3 lists, 5 datasets, expiration=* of 3, and the v3 endpoints spx does not read: symbols, trade lists, at_time quote and trade): %+v", len(rep.Deep), rep.Deep)
			}
			var diffs, names []string
			for _, ch := range rep.Deep {
				names = append(names, ch.Endpoint)
				if ch.Rows == 0 && tc.bad == "" {
					t.Errorf("%s: no rows", ch.Endpoint)
				}
				for _, d := range ch.Differences {
					diffs = append(diffs, ch.Endpoint+": "+d)
				}
			}
			// The endpoints issue 22 added to the simulator are checked too.
			for _, want := range []string{"/option/list/symbols", "/option/list/dates/{request_type} request_type=trade",
				"/option/list/contracts/{request_type} request_type=trade", "/option/at_time/quote", "/option/at_time/trade"} {
				if !slices.Contains(names, want) {
					t.Errorf("no deep check of %s: %v", want, names)
				}
			}
			if tc.bad == "" {
				if code != 0 || !rep.OK || len(diffs) > 0 {
					t.Fatalf("faithful simulator: exit %d, ok %v, differences:\n%s", code, rep.OK, strings.Join(diffs, "\n"))
				}
				return
			}
			if code != 1 || rep.OK {
				t.Fatalf("wrong simulator: exit %d, ok %v", code, rep.OK)
			}
			joined := strings.Join(diffs, "\n")
			for _, want := range []string{
				"/option/history/quote: format=csv: header symbol,expiration,strike,right,timestamp,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,unexpected_column, the spec has",
				"/option/history/quote: spx could not read it",
			} {
				if !strings.Contains(joined, want) {
					t.Errorf("differences lack %q:\n%s", want, joined)
				}
			}
			problems := strings.Join(rep.Problems, "\n")
			if !strings.Contains(problems, "deep check: /option/history/greeks/first_order answers differently") {
				t.Errorf("problems:\n%s", problems)
			}
		})
	}
}

// TestConfigValidateDeepV2: against a v2 terminal every check names the v2
// endpoint asked and spx's readers take each answer.
func TestConfigValidateDeepV2(t *testing.T) {
	sim := terminalsim.New(terminalsim.Config{Seed: 3, MaxExpirations: 2, MaxStrikes: 2})
	_, v2, stop, err := sim.Listen("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	dir := t.TempDir()
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	code, out, stderr := storeRunSPX(t, "--db", filepath.Join(dir, "spx.db"), "--terminal", v2, "--output-dir", filepath.Join(dir, "out"),
		"config", "validate", "--deep", "--deep-date", "2024-03-15", "--format", "json")
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, stderr)
	}
	if len(rep.Deep) != 11 {
		t.Fatalf("%d checks", len(rep.Deep))
	}
	for _, ch := range rep.Deep {
		if !strings.HasPrefix(ch.Endpoint, "/v2/") || !strings.Contains(ch.URL, "/v2/") || ch.Rows == 0 {
			t.Errorf("check %+v", ch)
		}
	}
}
