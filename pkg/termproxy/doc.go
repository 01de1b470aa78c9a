// Package termproxy is the authenticated forwarder that lets fetchers on
// other machines use a Theta Terminal, which accepts requests from one
// client address only (476 WRONG_IP). It runs on the terminal's host, checks
// a bearer token, and forwards GET and HEAD of the terminal's read-only
// market data and status endpoints to the terminal from loopback, streaming
// the answer back byte for byte as it arrives; anything else (another
// method, /v3/terminal/shutdown, an unknown path) is refused.
//
// It must not interpret market data: bodies (CSV, NDJSON, v2 JSON envelopes)
// pass through untouched and unbuffered; only the v2 Next-Page header is
// rewritten so the next page is asked of the proxy. It must not log the
// token, and it must not listen on a non-loopback address without one.
package termproxy
