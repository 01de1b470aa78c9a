package termproxy

import (
	"net/http"
	"strings"
)

// The terminal endpoints the proxy forwards: the read-only market data and
// status endpoints spx and its users call. Everything else the terminal
// answers (GET /v3/terminal/shutdown and /v2/system/terminal/shutdown kill
// it; flat files are whole-market downloads) stays on its own host.
var (
	// forwardPrefixes are forwarded with anything below them.
	forwardPrefixes = []string{
		"/v3/option/list/", "/v3/option/history/", "/v3/option/snapshot/", "/v3/option/at_time/",
		"/v3/stock/list/", "/v3/stock/history/", "/v3/stock/snapshot/", "/v3/stock/at_time/",
		"/v3/index/list/", "/v3/index/history/", "/v3/index/snapshot/", "/v3/index/at_time/",
		"/v3/calendar/", "/v3/interest_rate/history/",
		"/v2/list/", "/v2/hist/", "/v2/bulk_hist/", "/v2/snapshot/", "/v2/bulk_snapshot/",
		"/v2/at_time/", "/v2/bulk_at_time/", "/v2/page/",
	}
	// forwardPaths are forwarded as they are.
	forwardPaths = []string{
		"/v3/terminal/mdds/status", "/v3/terminal/fpss/status",
		"/v2/system/mdds/status", "/v2/system/fpss/status",
	}
)

const forwardedList = "/v3/{option,stock,index}/{list,history,snapshot,at_time}/…, /v3/calendar/…, " +
	"/v3/interest_rate/history/…, /v3/terminal/{mdds,fpss}/status, /v2/{list,hist,bulk_hist,snapshot,bulk_snapshot,at_time,bulk_at_time,page}/… " +
	"and /v2/system/{mdds,fpss}/status"

// refusal says why r is not forwarded: 405 for a method other than GET or
// HEAD, 403 for a path outside the read-only endpoints; 0 when it is
// forwarded. A path must be plain (lower-case letters, digits, _ and single
// slashes, nothing escaped): the terminal might resolve a dot segment, an
// escaped slash or a ;parameter to an endpoint the list does not name.
func refusal(r *http.Request) (int, string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return http.StatusMethodNotAllowed, "spx terminal-proxy forwards only GET and HEAD (the terminal's read-only endpoints), not " + r.Method
	}
	p := r.URL.Path
	if r.URL.RawPath == "" && plainPath(p) {
		for _, f := range forwardPaths {
			if p == f {
				return 0, ""
			}
		}
		for _, f := range forwardPrefixes {
			if strings.HasPrefix(p, f) && len(p) > len(f) {
				return 0, ""
			}
		}
	}
	return http.StatusForbidden, "spx terminal-proxy does not forward " + r.URL.EscapedPath() + ": it forwards only the terminal's read-only market data and status endpoints: " + forwardedList
}

// plainPath reports whether p is made of single slashes and segments of
// lower-case letters, digits and _.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '/') {
			return false
		}
	}
	return true
}
