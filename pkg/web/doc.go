// Package web serves spx's small browser page and the JSON endpoints behind
// it: the coverage calendar (one cell per trading day, coloured by day
// status), the live pipeline (queue depth, workers, throughput, terminal
// latency and errors), the recent errors with advice, and a retry action for
// a failed day. Every asset is embedded, so the page works offline.
//
// It also holds the report shapes that `spx status` and `spx list` print as
// JSON, so the CLI and the page cannot drift apart.
//
// It must not change the archive: it reads the status store through a small
// read-only interface, and the only action it offers (retry) goes through
// the Retrier it is given. It must not import pkg/cli or any role.
package web
