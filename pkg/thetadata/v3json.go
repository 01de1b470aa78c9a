package thetadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spx-archive/spx/pkg/spx"
)

// v3JSON turns a v3 format=json answer into the NDJSON the records reader
// already reads. It takes every shape a source describes:
//
//   - {"response":[row, …]} (the spec's list examples) and
//     {"response":[{"contract":{…},"data":[row, …]}, …]} (its history
//     examples): one line per row, the contract's fields in front; one
//     element of the array is held at a time;
//   - {"symbol":[…],"expiration":[…],…}, one array per column (what
//     lumibot's and trade4ticks' clients read from real terminals): the
//     whole answer is held, up to maxColumnarBody (the other shapes
//     stream, without a limit);
//   - {"header":{"format":[names]},"response":[[values], …]} (the v2-style
//     envelope trade4ticks also handles): one line per array.
type v3JSON struct {
	dec    *json.Decoder
	body   *capped
	url    string
	out    bytes.Buffer
	opened bool
	done   bool
	err    error

	format []string // header.format of the v2-style envelope
	// columnar: the arrays, in the answer's order, and the next row.
	names []string
	cols  [][]json.RawMessage
	row   int
}

// maxColumnarBody bounds a format=json answer: a columnar one cannot be
// decoded before it has all arrived.
var maxColumnarBody int64 = 1 << 30 // a variable for tests

func newV3JSON(r io.Reader, url string) *v3JSON {
	c := &capped{r: r, left: -1, url: url}
	d := json.NewDecoder(c)
	d.UseNumber()
	return &v3JSON{dec: d, body: c, url: url}
}

func (j *v3JSON) Read(p []byte) (int, error) {
	for j.out.Len() == 0 {
		if j.err != nil {
			return 0, j.err
		}
		if j.done {
			return 0, io.EOF
		}
		j.err = j.step()
	}
	return j.out.Read(p)
}

// element is one entry of the response array.
type element struct {
	Contract json.RawMessage   `json:"contract"`
	Data     []json.RawMessage `json:"data"`
}

// step renders the next element of the response array (or opens or closes
// the envelope).
func (j *v3JSON) step() error {
	if !j.opened {
		j.opened = true
		tok, err := j.dec.Token()
		if err == io.EOF {
			return emptyBody(j.url)
		}
		if err != nil {
			return j.readErr(err)
		}
		if tok != json.Delim('{') {
			return malformed(j.url, `the JSON answer does not start with {"response":[`, []byte(fmt.Sprint(tok)))
		}
		tok, err = j.dec.Token()
		if err != nil {
			return j.readErr(err)
		}
		key, _ := tok.(string)
		switch key {
		case "response":
		case "header":
			var h struct {
				Format []string `json:"format"`
			}
			if err := j.dec.Decode(&h); err != nil {
				return j.readErr(err)
			}
			if tok, err = j.dec.Token(); err != nil {
				return j.readErr(err)
			}
			if k, _ := tok.(string); k != "response" || len(h.Format) == 0 {
				return malformed(j.url, `the JSON answer has a "header" without a "format" list followed by "response"`, nil)
			}
			j.format = h.Format
		default:
			return j.readColumns(key)
		}
		return j.expectDelim('[', `the JSON answer's "response" is not an array`)
	}
	if j.cols != nil {
		return j.columnRow()
	}
	if !j.dec.More() {
		if _, err := j.dec.Token(); err != nil { // ]
			return j.readErr(err)
		}
		j.done = true
		return nil
	}
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		return j.readErr(err)
	}
	if j.format != nil {
		return j.arrayRow(raw)
	}
	var el element
	if err := json.Unmarshal(raw, &el); err != nil {
		return malformed(j.url, "an element of the JSON answer's response array is not an object: "+err.Error(), raw)
	}
	if el.Contract == nil {
		return j.line(nil, raw)
	}
	for _, row := range el.Data {
		if err := j.line(el.Contract, row); err != nil {
			return err
		}
	}
	return nil
}

// line writes one NDJSON line: the members of contract (may be nil), then
// those of row.
func (j *v3JSON) line(contract, row json.RawMessage) error {
	start := j.out.Len()
	if contract != nil {
		if err := json.Compact(&j.out, contract); err != nil || j.out.Len()-start < 2 || j.out.Bytes()[start] != '{' {
			return malformed(j.url, "a contract of the JSON answer is not an object", contract)
		}
		j.out.Truncate(j.out.Len() - 1) // drop the }
	}
	mid := j.out.Len()
	if err := json.Compact(&j.out, row); err != nil || j.out.Len()-mid < 2 || j.out.Bytes()[mid] != '{' {
		return malformed(j.url, "a row of the JSON answer is not an object", row)
	}
	if contract != nil {
		b := j.out.Bytes()
		if b[mid+1] == '}' { // an empty row: drop its {
			b[mid] = ' '
		} else {
			b[mid] = ','
		}
	}
	j.out.WriteByte('\n')
	return nil
}

// readColumns reads a columnar answer whole, first is its first key.
func (j *v3JSON) readColumns(first string) error {
	j.body.left = maxColumnarBody
	key := first
	for {
		var vals []json.RawMessage
		if err := j.dec.Decode(&vals); err != nil {
			return j.readErr(fmt.Errorf("column %q is not an array of values: %w", key, err))
		}
		if len(j.cols) > 0 && len(vals) != len(j.cols[0]) {
			return malformed(j.url, fmt.Sprintf("column %q has %d values, %q has %d", key, len(vals), j.names[0], len(j.cols[0])), nil)
		}
		j.names, j.cols = append(j.names, key), append(j.cols, vals)
		if !j.dec.More() {
			break
		}
		tok, err := j.dec.Token()
		if err != nil {
			return j.readErr(err)
		}
		key, _ = tok.(string)
	}
	if _, err := j.dec.Token(); err != nil { // }
		return j.readErr(err)
	}
	return nil
}

// columnRow writes the next row of a columnar answer.
func (j *v3JSON) columnRow() error {
	if j.row >= len(j.cols[0]) {
		j.done = true
		return nil
	}
	j.out.WriteByte('{')
	for c, name := range j.names {
		if c > 0 {
			j.out.WriteByte(',')
		}
		b, _ := json.Marshal(name)
		j.out.Write(b)
		j.out.WriteByte(':')
		if err := json.Compact(&j.out, j.cols[c][j.row]); err != nil {
			return malformed(j.url, fmt.Sprintf("value %d of column %q is not JSON", j.row, name), j.cols[c][j.row])
		}
	}
	j.out.WriteString("}\n")
	j.row++
	return nil
}

// arrayRow writes one row of the v2-style envelope, named by its format.
func (j *v3JSON) arrayRow(raw json.RawMessage) error {
	var vals []json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil || len(vals) != len(j.format) {
		return malformed(j.url, fmt.Sprintf("a row of the JSON answer is not an array of %d values (header.format)", len(j.format)), raw)
	}
	j.out.WriteByte('{')
	for c, name := range j.format {
		if c > 0 {
			j.out.WriteByte(',')
		}
		b, _ := json.Marshal(name)
		j.out.Write(b)
		j.out.WriteByte(':')
		if err := json.Compact(&j.out, vals[c]); err != nil {
			return malformed(j.url, "a value of the JSON answer is not JSON", raw)
		}
	}
	j.out.WriteString("}\n")
	return nil
}

// capped reads at most left more bytes (no limit while left < 0), then
// fails with a clear error.
type capped struct {
	r    io.Reader
	left int64
	url  string
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return c.r.Read(p)
	}
	if c.left == 0 {
		return 0, spx.Permanent(fmt.Errorf("reading %s: the format=json answer is larger than %d MiB: set thetadata.format to csv (streamed, no limit)", c.url, maxColumnarBody>>20))
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (j *v3JSON) expectDelim(d json.Delim, what string) error {
	tok, err := j.dec.Token()
	if err != nil {
		return j.readErr(err)
	}
	if tok != d {
		return malformed(j.url, what, []byte(fmt.Sprint(tok)))
	}
	return nil
}

// readErr classifies an error of the JSON decoder: the body ending early is
// a truncated answer (transient), bad syntax a malformed one.
func (j *v3JSON) readErr(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return truncated(j.url, "the JSON answer ended before it was closed")
	case errors.As(err, &se):
		return malformed(j.url, "the answer is not valid JSON: "+err.Error(), nil)
	}
	return err // the body's own read error (idle timeout, cut connection)
}
