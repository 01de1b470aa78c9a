// Package web serves spx's small browser page and the JSON endpoints behind
// it: the coverage calendar (one cell per trading day, coloured by day
// status), the live pipeline (queue depth, workers, throughput, terminal
// latency and errors), the recent errors with advice, and a retry action for
// a failed day. Every asset is embedded, so the page works offline.
//
// It also holds the report shapes that `spx status` and `spx list` print as
// JSON, so the CLI and the page cannot drift apart.
//
// Endpoints (JSON is one line, like the CLI's --format json):
//
//	GET  /                     the page (assets under /static/, embedded)
//	GET  /api/status?errors=N  StatusReport, = spx status --format json
//	GET  /api/days?from=&to=&failed_only=  []spx.DayRecord, = spx list --format json
//	GET  /api/jobs?date=       []spx.JobRecord of one trade date
//	GET  /api/calendar?year=   Coverage: one cell per session of the year
//	GET  /api/errors?limit=N   []ErrorView: the error log with advice
//	GET  /api/info             Info: years to show, whether retry is offered
//	GET  /api/live             LiveReply: the pipeline's LiveStats
//	GET  /api/stream           LiveReply as server-sent events every Interval
//	POST /api/retry            {"date":"YYYY-MM-DD"} → RetryReply (JSON body
//	                           only, same-origin: the page's script)
//	GET  /metrics              Config.Metrics, when given (Prometheus)
//
// Every request must name the server in its Host header (localhost, an IP
// address, or one of Access.Hosts; 421 otherwise, against DNS rebinding)
// and, when Access.User is set, carry its basic-auth credentials (401).
//
// It must not change the archive: it reads the status store through a small
// read-only interface, and the only action it offers (retry) goes through
// the Retrier it is given. It must not import pkg/cli or any role.
package web
