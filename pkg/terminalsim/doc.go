// Package terminalsim is a simulated Theta Terminal: it serves the v3 and v2
// HTTP protocols exactly as THETADATA.md documents them, from a deterministic
// synthetic SPX/SPXW option market, with the terminal's limits (concurrency
// tiers, request queue, one client address, paging, large requests) and
// injectable faults (error codes, disconnects, start-up phase, resets,
// stalls, truncated bodies, latency).
//
// It exists for tests, benchmarks and demos. It must not talk to ThetaData,
// read or write files, or hold a whole response in memory: bodies are
// generated row by row while they stream.
//
// The market is a pure function of (seed, date): an index level near real
// history with seeded noise, a per-minute random walk through the session
// (pkg/calendar decides sessions and early closes), SPX AM monthlies and
// LEAPS, SPXW weeklies/dailies/end-of-month/quarterlies by the dates each
// series started, holidays moving an expiration to the previous session,
// and a strike grid that widens away from the money and with time to
// expiry. Prices are Black–Scholes with a skewed smile; bid/ask straddle
// the fair price on 0.05/0.10 ticks, so put-call parity holds within the
// spread. A realistic 2024 day has about 70 expirations and 7–9 million
// greeks rows at 1m; Config.MaxExpirations/MaxStrikes shrink it for tests.
//
// v3 follows spx's contract table of ThetaData's v3 OpenAPI file
// (pkg/thetaspec) except where pkg/thetaspec/exceptions.yaml says why;
// docs/thetadata.md gives the source of every behaviour. format=json has
// the spec examples' shape, as a real v3 terminal answers
// (Config.JSONShape "columnar" serves the shape some third-party clients
// read). Config.Latency models a real terminal's per-request time.
//
// Known simplifications: the v3 `tick` interval is served at 1m; v2 `rth`
// is ignored (regular hours only); intraday windows finer than 23401 stamps
// a day answer 570; greeks' rate and dividend parameters are ignored;
// trades (trades.go: ohlc bars, at_time/trade, the trade lists) have
// placeholder sizes and conditions and no history/trade endpoint.
package terminalsim
