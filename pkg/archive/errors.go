package archive

import (
	"errors"
	"fmt"

	"github.com/spx-archive/spx/pkg/spx"
)

// ErrNoRows is returned when the input holds no rows. An empty 200 answer
// from the terminal is bad data: NO_DATA is recorded by the pipeline
// separately and never reaches the converter.
var ErrNoRows = spx.Permanent(errors.New("input has no rows: an empty body is not a valid history (NO_DATA is recorded separately); re-fetch the job"))

// maxQuote bounds how much of an offending line an error quotes.
const maxQuote = 200

// LineError is a line of NDJSON input that cannot be converted. It is
// permanent: fetching the same bytes again would fail the same way.
type LineError struct {
	Line   int64  // 1-based line number in the input
	Reason string // what is wrong with it
	Text   string // the line, truncated to about 200 bytes
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %q (the staged input is malformed: fix the fetcher or re-fetch the job)", e.Line, e.Reason, e.Text)
}

// ErrorClass marks line errors permanent (see spx.ClassOf).
func (e *LineError) ErrorClass() spx.ErrorClass { return spx.ClassPermanent }

func newLineError(line int64, text []byte, reason string) *LineError {
	q := text
	if len(q) > maxQuote {
		q = q[:maxQuote]
	}
	return &LineError{Line: line, Reason: reason, Text: string(q)}
}
