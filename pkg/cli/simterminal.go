package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/terminalsim"
)

type simTerminalFlags struct {
	v3Addr, v2Addr   string
	cfg              terminalsim.Config
	faultRate        string
	badData          string
	contractsLatency time.Duration
}

// newSimTerminalCommand builds `spx sim-terminal`.
func newSimTerminalCommand(o *Options) *cobra.Command {
	f := &simTerminalFlags{}
	cmd := &cobra.Command{
		Use:   "sim-terminal",
		Short: "Run a simulated Theta Terminal (v3 and v2) for demos and tests",
		Long: `sim-terminal serves the Theta Terminal's v3 and v2 HTTP protocols from a
deterministic synthetic SPX/SPXW market, with the real terminal's limits
(concurrency tier, request queue, one client address, paging) and optional
injected faults. It serves until interrupted. An empty address disables that
generation. Statistics are at /sim/stats on both listeners.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimTerminal(cmd.Context(), o, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.v3Addr, "v3-addr", "127.0.0.1:25503", "v3 listen address (empty disables v3)")
	fl.StringVar(&f.v2Addr, "v2-addr", "127.0.0.1:25510", "v2 listen address (empty disables v2)")
	fl.Int64Var(&f.cfg.Seed, "seed", 1, "market seed: the same seed serves the same bytes")
	fl.StringVar(&f.cfg.Tier, "tier", "standard", "subscription tier: free, value, standard or pro (concurrency 1/2/4/8)")
	fl.IntVar(&f.cfg.Concurrency, "concurrency", 0, "requests served at once (overrides --tier when > 0)")
	fl.IntVar(&f.cfg.QueueSize, "queue-size", 16, "requests that may wait for a slot; past that the terminal answers 429")
	fl.IntVar(&f.cfg.TickLimit, "tick-limit", 500000, "v2 rows per page")
	fl.DurationVar(&f.cfg.PageTTL, "page-ttl", 10*time.Second, "a waiting v2 page expires after this (then 477)")
	fl.IntVar(&f.cfg.LargeRequestRows, "large-request-rows", 0, "answer 570 above this many rows (0 = off)")
	fl.IntVar(&f.cfg.MaxExpirations, "max-expirations", 0, "expirations per root per day (0 = realistic)")
	fl.IntVar(&f.cfg.MaxStrikes, "max-strikes", 0, "strikes per expiration, nearest the money (0 = realistic)")
	fl.BoolVar(&f.cfg.OneClientIP, "one-client-ip", true, "answer 476 to requests from a second client address")
	fl.DurationVar(&f.contractsLatency, "contracts-latency", 500*time.Millisecond, "added to v2 /list/contracts like the real terminal")
	fl.StringVar(&f.faultRate, "fault-rate", "", "injected error codes per history request, e.g. 474=0.05,570=0.01")
	fl.DurationVar(&f.cfg.Faults.Disconnect, "disconnect", 0, "answer 474 (health DISCONNECTED) for this long after start")
	fl.DurationVar(&f.cfg.Faults.StartupPhase, "startup", 0, "answer 571 SERVER_STARTING for this long after start")
	fl.Float64Var(&f.cfg.Faults.ResetRate, "reset-rate", 0, "probability a history body is cut by a connection reset")
	fl.Float64Var(&f.cfg.Faults.StallRate, "stall-rate", 0, "probability a history body stops mid-way and holds the connection")
	fl.Float64Var(&f.cfg.Faults.TruncateRate, "truncate-rate", 0, "probability a history body ends early without its closing envelope")
	fl.DurationVar(&f.cfg.Faults.Latency, "latency", 0, "added before every history response's headers")
	fl.Float64Var(&f.cfg.Faults.ExpireRate, "expire-rate", 0, "probability a v2 page continuation has expired (477)")
	fl.DurationVar(&f.cfg.Latency.FirstByte, "first-byte-delay", 0, "per list/history request, like a real terminal: wait this long (holding a concurrency slot) before answering")
	fl.Int64Var(&f.cfg.Latency.BytesPerSecond, "bytes-per-sec", 0, "per list/history request: send the answer at most this fast (0 = unlimited)")
	fl.StringVar(&f.cfg.JSONShape, "json-shape", terminalsim.JSONSpec, "v3 format=json answers: spec ({\"response\":[…]}, the OpenAPI examples' shape and a real v3 terminal's) or columnar ({\"column\":[…]}, what some third-party clients read)")
	fl.StringVar(&f.badData, "bad-data", "", "malformed v3 CSV history answers: header, nan, inf, fields or empty")
	return cmd
}

func runSimTerminal(ctx context.Context, o *Options, f *simTerminalFlags) error {
	rates, err := terminalsim.ParseErrorRates(f.faultRate)
	if err != nil {
		return Usage(err)
	}
	switch f.cfg.Tier {
	case "free", "value", "standard", "pro":
	default:
		return Usagef("invalid --tier %q: use free, value, standard or pro", f.cfg.Tier)
	}
	if f.v3Addr == "" && f.v2Addr == "" {
		return Usagef("both --v3-addr and --v2-addr are empty: give at least one address to listen on")
	}
	for name, r := range map[string]float64{"expire-rate": f.cfg.Faults.ExpireRate, "reset-rate": f.cfg.Faults.ResetRate, "stall-rate": f.cfg.Faults.StallRate, "truncate-rate": f.cfg.Faults.TruncateRate} {
		if r < 0 || r > 1 {
			return Usagef("invalid --%s %v: use a probability between 0 and 1", name, r)
		}
	}
	if f.cfg.Latency.FirstByte < 0 || f.cfg.Latency.BytesPerSecond < 0 {
		return Usagef("invalid --first-byte-delay %s or --bytes-per-sec %d: neither may be negative", f.cfg.Latency.FirstByte, f.cfg.Latency.BytesPerSecond)
	}
	if f.cfg.JSONShape != terminalsim.JSONColumnar && f.cfg.JSONShape != terminalsim.JSONSpec {
		return Usagef("invalid --json-shape %q: use %s or %s", f.cfg.JSONShape, terminalsim.JSONColumnar, terminalsim.JSONSpec)
	}
	bad, err := terminalsim.ParseBadData(f.badData)
	if err != nil {
		return Usage(err)
	}
	cfg := f.cfg
	cfg.Faults.ErrorRate = rates
	cfg.Faults.BadData = bad
	cfg.ContractsLatency = f.contractsLatency
	cfg.Logger = o.Logger()
	return terminalsim.New(cfg).Serve(ctx, f.v3Addr, f.v2Addr)
}
