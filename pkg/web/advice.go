package web

import (
	"strings"

	"github.com/spx-archive/spx/pkg/spx"
)

// ErrorView is an error log entry with what to do about it.
type ErrorView struct {
	spx.ErrorEntry
	Advice string `json:"advice"`
}

// adviceRules match the terminal's codes and names in a message; the first
// match wins. The wording tells a person what to do next.
var adviceRules = []struct{ match, advice string }{
	{"476", "The terminal sees requests from a second address (WRONG_IP): run fetchers on the terminal's host or through 'spx terminal-proxy', then retry the day."},
	{"wrong_ip", "The terminal sees requests from a second address (WRONG_IP): run fetchers on the terminal's host or through 'spx terminal-proxy', then retry the day."},
	{"471", "The account's subscription does not cover this request (PERMISSION): upgrade the tier or drop the dataset from processing.datasets, then retry."},
	{"permission", "The account's subscription does not cover this request: upgrade the tier or drop the dataset from processing.datasets, then retry."},
	{"473", "The terminal rejected the request parameters (INVALID_PARAMS): check processing.interval and the roots, update spx, then retry."},
	{"478", "The terminal refused the session (INVALID_SESSION): another terminal may be logged in with the same account; stop it, then retry."},
	{"404", "The terminal does not know this endpoint: update the Theta Terminal or set thetadata.api to the generation it speaks, then retry."},
	{"connection refused", "The terminal is not reachable: start the Theta Terminal (and check thetadata.base_url, 127.0.0.1 rather than localhost); failed days can then be retried."},
	{"570", "The request was too large even after splitting: retry later or narrow processing.interval."},
	{"malformed", "The terminal sent a response spx cannot read: the head is kept in the error's detail; update spx or the terminal, then retry."},
	{"schema", "The response's columns do not match the dataset: update spx or the terminal, then retry."},
}

// Advice returns what a person should do about e.
func Advice(e spx.ErrorEntry) string {
	msg := strings.ToLower(e.Message)
	if e.Type == spx.ErrorTypeTerminal {
		return "Nothing fails for it: spx waits and carries on by itself once the terminal is up. If it stays away, start the Theta Terminal (or restart it, if it lost ThetaData) and check thetadata.base_url (127.0.0.1 rather than localhost)."
	}
	for _, r := range adviceRules {
		if strings.Contains(msg, r.match) {
			return r.advice
		}
	}
	switch spx.ErrorClass(e.Type) {
	case spx.ClassTransient:
		return "Temporary: the pipeline retries it by itself with back-off. If it repeats, check the terminal's health."
	case spx.ClassSplit:
		return "The terminal found the request too large; spx splits it. If the day still fails, retry it."
	case spx.ClassEmpty:
		return "The terminal has no data for this request; it is recorded as empty, not a gap."
	case spx.ClassPermanent:
		return "Fix the cause named in the message, then retry the day (button on the day, or 'spx retry DATE')."
	}
	if strings.Contains(msg, "dead") || strings.Contains(msg, "max deliver") {
		return "The job ran out of deliveries: check the workers' logs for the cause, then retry the day."
	}
	return "See the message; after fixing the cause, retry the day ('spx retry DATE')."
}
