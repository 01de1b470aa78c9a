package thetadata

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spx-archive/spx/pkg/spx"
)

// Error is a non-OK answer of the terminal: an HTTP status other than 200, or
// a v2 envelope whose header.error_type is not "null".
type Error struct {
	Code  int            // HTTP status or the code of the v2 error_type
	Name  string         // ThetaData's name, e.g. NO_DATA, WRONG_IP
	Class spx.ErrorClass // what the pipeline does with it
	Msg   string         // the terminal's own text, trimmed
	URL   string         // the request (no credentials)

	// terminalBody is set when the body reads as a Theta Terminal's error
	// (a v2 envelope, or ThetaData's name of the code), as opposed to any
	// web server's page.
	terminalBody bool
}

var _ spx.Classer = (*Error)(nil)

// statusInfo explains a status code to a person.
type statusInfo struct {
	name    string
	meaning string
	action  string
}

var statuses = map[int]statusInfo{
	// 401 and 403 come from spx terminal-proxy, not from the terminal.
	401: {"UNAUTHORIZED", "the terminal proxy rejected the token",
		"set thetadata.token (or SPX_PROXY_TOKEN) on this machine to the token spx terminal-proxy was started with"},
	403: {"FORBIDDEN", "the terminal proxy refused the request",
		"check the proxy's log and its allowed paths; use the token it was started with"},
	404: {"NO_IMPL", "the terminal does not know this request",
		"terminal too old or wrong API generation: upgrade the Theta Terminal or set thetadata.api (v2 or v3) to the generation it speaks"},
	429: {"OS_LIMIT", "the terminal is throttling or its request queue overflowed",
		"back off and retry; lower thetadata.concurrency if it keeps happening"},
	470: {"GENERAL", "the terminal reported a general error",
		"retry later; if it persists, check the terminal's log"},
	471: {"PERMISSION", "your subscription tier does not include this data",
		"upgrade the ThetaData subscription, or remove this dataset/root from processing.datasets / processing.roots"},
	472: {"NO_DATA", "the terminal has no data for this request",
		"nothing to do: the job is recorded as empty"},
	473: {"INVALID_PARAMS", "the terminal rejected the request's parameters",
		"check the dataset, root, dates and processing.interval; if they look right, report a bug in spx"},
	474: {"DISCONNECTED", "the terminal lost its connection to ThetaData",
		"wait until the terminal's status is CONNECTED; spx retries"},
	475: {"TERMINAL_PARSE", "the terminal could not parse the request",
		"upgrade the Theta Terminal, or set thetadata.api to the generation it speaks"},
	476: {"WRONG_IP", "the request came from a different client address than the terminal's first one",
		"use 127.0.0.1, not localhost; only one client address may use the terminal (remote fetchers must go through spx terminal-proxy); restart the terminal after fixing"},
	477: {"NO_PAGE_FOUND", "the next page of the response expired or does not exist",
		"spx restarts the request from page 1; if it repeats, lower thetadata.concurrency so pages are read promptly"},
	478: {"INVALID_SESSION_ID", "the terminal's session was invalidated",
		"two terminals are running with the same account: stop one, then restart the other"},
	570: {"LARGE_REQUEST", "the request is too large for the terminal",
		"ask for less: spx splits the request by right; if that is not enough, use a coarser processing.interval"},
	571: {"SERVER_STARTING", "ThetaData's servers are starting",
		"wait a minute; spx retries"},
	572: {"UNCAUGHT_ERROR", "the terminal hit an internal error",
		"retry later; if it persists, restart the terminal and check its log"},
}

// codeOfName maps a v2 error_type name to its status code.
func codeOfName(name string) int {
	for code, s := range statuses {
		if s.name == name {
			return code
		}
	}
	return 0
}

// ClassOfStatus maps an HTTP status of the terminal to an error class
// (DESIGN.md "Error classes").
func ClassOfStatus(code int) spx.ErrorClass {
	switch code {
	case 200:
		return spx.ClassOK
	case 472:
		return spx.ClassEmpty
	case 429, 470, 474, 477, 571, 572:
		return spx.ClassTransient
	case 570:
		return spx.ClassSplit
	case 404, 471, 473, 475, 476, 478:
		return spx.ClassPermanent
	}
	if code >= 500 && code <= 599 {
		return spx.ClassTransient
	}
	return spx.ClassPermanent
}

// newError builds an Error for a status code (code 0: from name only).
func newError(code int, name, msg, url string) *Error {
	if code == 0 && name != "" {
		code = codeOfName(name)
	}
	if name == "" {
		if s, ok := statuses[code]; ok {
			name = s.name
		} else {
			name = "HTTP_" + strconv.Itoa(code)
		}
	}
	class := ClassOfStatus(code)
	if code == 0 {
		class = spx.ClassPermanent // an error name spx does not know
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &Error{Code: code, Name: name, Class: class, Msg: msg, URL: url}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Code == 0 {
		fmt.Fprintf(&b, "theta terminal answered error %s", e.Name)
	} else {
		fmt.Fprintf(&b, "theta terminal answered %d %s", e.Code, e.Name)
	}
	if e.URL != "" {
		fmt.Fprintf(&b, " to %s", e.URL)
	}
	s, known := statuses[e.Code]
	if known {
		b.WriteString(": ")
		b.WriteString(s.meaning)
	}
	if e.Msg != "" && e.Msg != "null" {
		fmt.Fprintf(&b, " (terminal said %q)", e.Msg)
	}
	switch {
	case known:
		b.WriteString(": ")
		b.WriteString(s.action)
	case e.Class == spx.ClassTransient:
		b.WriteString(": the terminal failed; spx retries, check the terminal's log if it persists")
	default:
		b.WriteString(": unexpected answer; check the terminal's log and that thetadata.api matches the terminal")
	}
	return b.String()
}

// ErrorClass implements spx.Classer.
func (e *Error) ErrorClass() spx.ErrorClass { return e.Class }

// Is makes errors.Is(err, spx.ErrNoData) true for a 472 NO_DATA answer.
func (e *Error) Is(target error) bool { return target == spx.ErrNoData && e.Code == 472 }

// ErrNotTerminal is wrapped by the error of a health check answered by
// something that is not a Theta Terminal: a web server that knows neither
// generation's status endpoint (404) and does not answer as the terminal
// does.
var ErrNotTerminal = errors.New("not a Theta Terminal")

// notTerminalError is base answering 404 to the status endpoints in
// answers, none of them as a terminal answers.
type notTerminalError struct {
	base    string
	answers []*Error
}

func (e *notTerminalError) Error() string {
	var urls []string
	for _, a := range e.answers {
		urls = append(urls, a.URL)
	}
	said := ""
	if len(e.answers) > 0 && e.answers[0].Msg != "" {
		said = fmt.Sprintf(" (it said %q)", head([]byte(strings.Join(strings.Fields(e.answers[0].Msg), " ")), 80))
	}
	return fmt.Sprintf("something answers at %s but it is not a Theta Terminal: %s answered 404%s; point thetadata.base_url (--terminal) at the Theta Terminal (v3 listens on 25503, v2 on 25510)",
		e.base, strings.Join(urls, " and "), said)
}

func (e *notTerminalError) Unwrap() error              { return ErrNotTerminal }
func (e *notTerminalError) ErrorClass() spx.ErrorClass { return spx.ClassPermanent }

// ErrIdleTimeout is wrapped by the error a stream ends with when the terminal
// sends nothing for longer than Options.IdleTimeout.
var ErrIdleTimeout = errors.New("terminal stalled: no data within the idle timeout")

// ErrTruncated is wrapped by the error a stream ends with when the body ends
// before the response is complete.
var ErrTruncated = errors.New("response cut short")

// ErrEmptyBody marks a 200 answer without a single byte.
var ErrEmptyBody = errors.New("empty response body")

// truncated returns a transient error for a body that ended too early.
func truncated(url, what string) error {
	return spx.Transient(fmt.Errorf("reading %s: %s (%w): the connection was cut or the terminal stopped; spx retries", url, what, ErrTruncated))
}

// malformed returns a permanent error for a body spx cannot decode, quoting
// the beginning of the offending input.
func malformed(url, what string, sample []byte) error {
	return withSample(spx.Permanent(fmt.Errorf("decoding %s: %s; input begins %q: the terminal's answer does not have the shape spx expects; check thetadata.api and the terminal version, and report it if they are right", url, what, head(sample, 200))), sample)
}

// sampleError carries the offending input (at most 200 bytes) for the
// error log: the fetcher publishes Detail() with a failed job's event.
type sampleError struct {
	err    error
	sample string
}

func (e *sampleError) Error() string  { return e.err.Error() }
func (e *sampleError) Unwrap() error  { return e.err }
func (e *sampleError) Detail() string { return e.sample }

func withSample(err error, sample []byte) error {
	return &sampleError{err: err, sample: string(head(sample, 200))}
}

// emptyBody is a 200 answer that ended cleanly without a single byte: not a
// cut connection (that ends with an unexpected EOF), but an answer spx
// cannot use, so the job fails instead of being retried to no end.
func emptyBody(url string) error {
	return spx.Permanent(fmt.Errorf("decoding %s: the terminal answered 200 with an empty body (not even a header line): %w; retry later with spx retry, and if it persists restart the terminal", url, ErrEmptyBody))
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
