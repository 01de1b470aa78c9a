package thetadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// v3JSON turns a v3 format=json answer into the NDJSON the records reader
// already reads: {"response":[row, …]} (lists) gives one line per row, and
// {"response":[{"contract":{…},"data":[row, …]}, …]} (history, the shape of
// the spec's application/json examples) one line per data row with the
// contract's fields in front. One element of the response array is held at
// a time: a list row, or one contract's rows.
type v3JSON struct {
	dec    *json.Decoder
	url    string
	out    bytes.Buffer
	opened bool
	done   bool
	err    error
}

func newV3JSON(r io.Reader, url string) *v3JSON {
	d := json.NewDecoder(r)
	d.UseNumber()
	return &v3JSON{dec: d, url: url}
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
		for {
			tok, err := j.dec.Token()
			if err != nil {
				return j.readErr(err)
			}
			if key, _ := tok.(string); key == "response" {
				break
			}
			var skip json.RawMessage // some other member before "response"
			if err := j.dec.Decode(&skip); err != nil {
				return j.readErr(err)
			}
		}
		return j.expectDelim('[', `the JSON answer's "response" is not an array`)
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
