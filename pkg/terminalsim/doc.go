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
package terminalsim
