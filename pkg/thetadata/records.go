package thetadata

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// records reads a v3-style table (CSV with a header line, or NDJSON flat
// objects) record by record. Fields are in header order; nil means empty or
// null. The fields are valid until the next call of next.
type records struct {
	lr     lineReader
	ndjson bool
	header []string
	fields [][]byte
	keys   [][]byte
	vals   [][]byte
	line   int
	url    string
	first  []byte // the first line seen, for error samples
	// pendingFirst: the first NDJSON object was read for its keys and is
	// still to be returned as a record.
	pendingFirst bool
	// firstLine is the CSV header line as read; pending is a data line to
	// return before reading on (see reuseHeader).
	firstLine []byte
	pending   []byte
}

// reuseHeader is for a v2 CSV page that starts with data instead of a
// header line: its first line becomes the first record and h the header.
func (r *records) reuseHeader(h []string) {
	r.pending = r.firstLine
	r.header = h
}

const readBufSize = 64 << 10

// newRecords reads the header (CSV) or the first object's keys (NDJSON). A
// body that ends cleanly before its first byte is ErrEmptyBody (permanent: a
// cut connection ends with an unexpected EOF instead).
func newRecords(r io.Reader, url string) (*records, error) {
	br := bufio.NewReaderSize(r, readBufSize)
	rec := &records{lr: lineReader{br: br, url: url}, url: url}
	for {
		b, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, emptyBody(url)
			}
			return nil, err
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' || b[0] == 0xEF || b[0] == 0xBB || b[0] == 0xBF {
			_, _ = br.ReadByte() // blank space or a UTF-8 byte order mark
			continue
		}
		rec.ndjson = b[0] == '{'
		break
	}
	if rec.ndjson {
		rec.lr.unterminated = true
		if err := rec.readObject(true); err != nil {
			if err == io.EOF {
				return nil, truncated(url, "the response is empty")
			}
			return nil, err
		}
		return rec, nil
	}
	line, err := rec.lr.next()
	if err != nil {
		if err == io.EOF {
			return nil, truncated(url, "the response is empty, without even a header line")
		}
		return nil, err
	}
	rec.line++
	rec.first = append([]byte(nil), head(line, 200)...)
	rec.firstLine = append([]byte(nil), line...)
	fs, ok := splitCSV(line, nil)
	if !ok {
		return nil, malformed(url, "the CSV header line is not valid CSV", line)
	}
	for _, f := range fs {
		rec.header = append(rec.header, strings.TrimSpace(string(f)))
	}
	return rec, nil
}

// next returns the next record; io.EOF at the clean end of the body.
func (r *records) next() ([][]byte, error) {
	if r.ndjson {
		if r.pendingFirst {
			r.pendingFirst = false
			return r.fields, nil
		}
		if err := r.readObject(false); err != nil {
			return nil, err
		}
		return r.fields, nil
	}
	line, err := r.nextLine()
	if err != nil {
		return nil, err
	}
	return r.split(line)
}

// nextLine returns the next non-empty CSV line, valid until the next call.
func (r *records) nextLine() ([]byte, error) {
	for {
		line := r.pending
		r.pending = nil
		if line == nil {
			var err error
			if line, err = r.lr.next(); err != nil {
				return nil, err
			}
			r.line++
		}
		if len(line) > 0 {
			return line, nil
		}
	}
}

// split splits the CSV line nextLine returned into its fields.
func (r *records) split(line []byte) ([][]byte, error) {
	var ok bool
	r.fields, ok = splitCSV(line, r.fields)
	if !ok {
		return nil, malformed(r.url, fmt.Sprintf("line %d is not valid CSV", r.line), line)
	}
	if len(r.fields) != len(r.header) {
		return nil, malformed(r.url, fmt.Sprintf("line %d has %d fields, the header has %d (%s)", r.line, len(r.fields), len(r.header), strings.Join(r.header, ",")), line)
	}
	return r.fields, nil
}

// readObject reads the next NDJSON object into r.fields in header order; the
// first object defines the header.
func (r *records) readObject(first bool) error {
	var line []byte
	for {
		l, err := r.lr.next()
		if err != nil {
			return err
		}
		r.line++
		if len(bytes.TrimSpace(l)) > 0 {
			line = l
			break
		}
	}
	var ok bool
	r.keys, r.vals, ok = splitFlatObject(line, r.keys, r.vals)
	if !ok && r.lr.cut {
		return truncated(r.url, "the last line has no line ending and is not a whole JSON object")
	}
	if !ok {
		return malformed(r.url, fmt.Sprintf("line %d is not a flat JSON object", r.line), line)
	}
	if first {
		r.first = append([]byte(nil), head(line, 200)...)
		for _, k := range r.keys {
			r.header = append(r.header, string(k))
		}
		r.fields = append(r.fields[:0], r.vals...)
		r.pendingFirst = true
		return nil
	}
	if len(r.keys) != len(r.header) {
		return malformed(r.url, fmt.Sprintf("line %d has %d fields, the first line has %d (%s)", r.line, len(r.keys), len(r.header), strings.Join(r.header, ",")), line)
	}
	r.fields = r.fields[:len(r.header)]
	for j, k := range r.keys {
		if string(k) == r.header[j] {
			r.fields[j] = r.vals[j]
			continue
		}
		found := false
		for h, name := range r.header {
			if string(k) == name {
				r.fields[h], found = r.vals[j], true
				break
			}
		}
		if !found {
			return malformed(r.url, fmt.Sprintf("line %d has field %q, which the first line does not have", r.line, k), line)
		}
	}
	return nil
}
