package thetadata

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spx-archive/spx/pkg/spx"
)

// jscanner is a minimal streaming JSON tokenizer over a reader: just enough
// for the v2 envelope, without allocating per token. Tokens it returns are
// valid until its next call.
type jscanner struct {
	r    io.Reader
	buf  []byte
	pos  int
	end  int
	eof  bool
	rerr error
	head []byte // the first bytes of the body, for error messages
	url  string
}

const maxTokenBuf = 64 << 20

func (s *jscanner) fill() bool {
	if s.eof || s.rerr != nil {
		return false
	}
	if s.pos > 0 {
		s.end = copy(s.buf, s.buf[s.pos:s.end])
		s.pos = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= maxTokenBuf {
			s.rerr = malformed(s.url, "a JSON token is longer than 64 MiB", s.head)
			return false
		}
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		if n > 0 && len(s.head) < 200 {
			s.head = append(s.head, head(s.buf[s.end:s.end+n], 200-len(s.head))...)
		}
		s.end += n
		if err != nil {
			if err == io.EOF {
				s.eof = true
			} else {
				s.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// endErr is the error when the body ends (or fails) where more is needed.
func (s *jscanner) endErr() error {
	if s.rerr != nil {
		return s.rerr
	}
	return truncated(s.url, "the JSON envelope ended before it was closed")
}

func (s *jscanner) syntax(what string) error {
	ctx := s.buf[s.pos:min(s.end, s.pos+40)]
	return malformed(s.url, fmt.Sprintf("%s, found %q", what, ctx), s.head)
}

// peek skips white space and returns the next byte without consuming it.
func (s *jscanner) peek() (byte, error) {
	for {
		for s.pos < s.end {
			c := s.buf[s.pos]
			if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				return c, nil
			}
			s.pos++
		}
		if !s.fill() {
			return 0, s.endErr()
		}
	}
}

func (s *jscanner) expect(c byte, what string) error {
	got, err := s.peek()
	if err != nil {
		return err
	}
	if got != c {
		return s.syntax("expected " + what)
	}
	s.pos++
	return nil
}

// str reads a string and returns its raw contents (escapes kept).
func (s *jscanner) str() ([]byte, error) {
	c, err := s.peek()
	if err != nil {
		return nil, err
	}
	if c != '"' {
		return nil, s.syntax("expected a string")
	}
	i := s.pos + 1
	for {
		if i >= s.end {
			rel := i - s.pos
			if !s.fill() {
				return nil, s.endErr()
			}
			i = s.pos + rel
			continue
		}
		switch s.buf[i] {
		case '\\':
			i += 2
			continue
		case '"':
			tok := s.buf[s.pos+1 : i]
			s.pos = i + 1
			return tok, nil
		}
		i++
	}
}

// Token kinds of scalar.
const (
	kindString = 's'
	kindNumber = 'n' // starts like a number; still check with isNumber
	kindNull   = 'z'
	kindOther  = 'o' // true, false, NaN, garbage
)

// scalar reads a string, number or literal.
func (s *jscanner) scalar() ([]byte, byte, error) {
	// Fast path: a number wholly inside the buffer.
	if p := s.pos; p < s.end {
		if c := s.buf[p]; c == '-' || (c >= '0' && c <= '9') {
			for i := p + 1; i < s.end; i++ {
				switch s.buf[i] {
				case ',', ']', '}', ' ', '\n', '\r', '\t':
					s.pos = i
					return s.buf[p:i], kindNumber, nil
				}
			}
		}
	}
	c, err := s.peek()
	if err != nil {
		return nil, 0, err
	}
	if c == '"' {
		tok, err := s.str()
		return tok, kindString, err
	}
	if c == '{' || c == '[' || c == ',' || c == ']' || c == '}' || c == ':' {
		return nil, 0, s.syntax("expected a value")
	}
	i := s.pos
	for {
		if i >= s.end {
			rel := i - s.pos
			if !s.fill() {
				return nil, 0, s.endErr()
			}
			i = s.pos + rel
			continue
		}
		switch s.buf[i] {
		case ',', ']', '}', ' ', '\n', '\r', '\t':
			tok := s.buf[s.pos:i]
			s.pos = i
			switch {
			case c == '-' || (c >= '0' && c <= '9'):
				return tok, kindNumber, nil
			case string(tok) == "null":
				return tok, kindNull, nil
			}
			return tok, kindOther, nil
		}
		i++
	}
}

// skip skips one value of any shape.
func (s *jscanner) skip() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '{' && c != '[' {
		_, _, err = s.scalar()
		return err
	}
	depth := 0
	for {
		c, err := s.peek()
		if err != nil {
			return err
		}
		switch c {
		case '"':
			if _, err := s.str(); err != nil {
				return err
			}
		case '{', '[':
			depth++
			s.pos++
		case '}', ']':
			depth--
			s.pos++
			if depth == 0 {
				return nil
			}
		default:
			s.pos++
		}
	}
}

// members walks an object's members: before each it returns the key, after
// the last ok=false. The caller consumes the value.
type memberIter struct {
	s     *jscanner
	first bool
	// key holds a copy of the current key: the scanner's buffer is compacted
	// when the value is read, which would rewrite bytes pointing into it.
	key    []byte
	keyArr [32]byte // backing store for short keys: no allocation
}

func (it *memberIter) next() (key []byte, ok bool, err error) {
	c, err := it.s.peek()
	if err != nil {
		return nil, false, err
	}
	if c == '}' {
		it.s.pos++
		return nil, false, nil
	}
	if !it.first {
		if c != ',' {
			return nil, false, it.s.syntax("expected , or }")
		}
		it.s.pos++
	}
	it.first = false
	key, err = it.s.str()
	if err != nil {
		return nil, false, err
	}
	if it.key == nil {
		it.key = it.keyArr[:0]
	}
	it.key = append(it.key[:0], key...)
	if err := it.s.expect(':', ":"); err != nil {
		return nil, false, err
	}
	return it.key, true, nil
}

func (s *jscanner) object() (*memberIter, error) {
	if err := s.expect('{', "{"); err != nil {
		return nil, err
	}
	return &memberIter{s: s, first: true}, nil
}

// v2JSON decodes one page of a v2 JSON envelope as a stream.
type v2JSON struct {
	s         jscanner
	ds        spx.Dataset
	m         *fieldMap
	format    []string
	nextURL   string
	st        int
	firstItem bool // next response item is the first
	first     bool // next tick is the first of its ticks array
	members   memberIter
	have      bool // contract of the current item known
	con       spx.Contract
	cc        contractCache
	dc        dateCache
	arena     rowArena // the current streamed row
	held      rowArena // ticks that arrived before their contract
	emit      int
	rows      int
}

// States of v2JSON.
const (
	stItems = iota
	stMembers
	stTicks
	stEmit
	stDone
)

// openV2JSON reads the envelope up to the start of the response array and
// checks the header: an error_type other than "null" is returned as *Error.
func openV2JSON(r io.Reader, ds spx.Dataset, url string) (*v2JSON, error) {
	d := &v2JSON{ds: ds, s: jscanner{r: r, buf: make([]byte, readBufSize), url: url}}
	d.arena.n, d.held.n = len(ds.Columns()), len(ds.Columns())
	s := &d.s
	env, err := s.object()
	if err != nil {
		return nil, err
	}
	var errType, errMsg string
	for {
		key, ok, err := env.next()
		if err != nil {
			return nil, err
		}
		if !ok { // envelope closed without a response
			if errType != "" && errType != "null" {
				return nil, newError(0, errType, errMsg, url)
			}
			if d.format == nil {
				return nil, malformed(url, "the JSON envelope has no header", s.head)
			}
			d.st = stDone
			return d, d.trailing()
		}
		switch string(key) {
		case "header":
			if errType, errMsg, err = d.readHeader(); err != nil {
				return nil, err
			}
			if errType != "" && errType != "null" {
				return nil, newError(0, errType, errMsg, url)
			}
		case "response":
			if d.format == nil {
				return nil, malformed(url, "the JSON envelope's response comes before its header", s.head)
			}
			if d.m, err = newFieldMap(ds, d.format, "v2", false, url); err != nil {
				return nil, err
			}
			if err := s.expect('[', "[ starting the response array"); err != nil {
				return nil, err
			}
			d.st, d.firstItem = stItems, true
			return d, nil
		default:
			if err := s.skip(); err != nil {
				return nil, err
			}
		}
	}
}

func (d *v2JSON) readHeader() (errType, errMsg string, err error) {
	s := &d.s
	h, err := s.object()
	if err != nil {
		return "", "", err
	}
	d.format = []string{}
	for {
		key, ok, err := h.next()
		if err != nil || !ok {
			return errType, errMsg, err
		}
		switch string(key) {
		case "error_type", "error_msg", "next_page":
			tok, _, err := s.scalar()
			if err != nil {
				return "", "", err
			}
			switch string(key) {
			case "error_type":
				errType = string(tok)
			case "error_msg":
				errMsg = string(tok)
			default:
				if string(tok) != "null" {
					d.nextURL = string(tok)
				}
			}
		case "format":
			if c, err := s.peek(); err == nil && c != '[' {
				if err := s.skip(); err != nil { // null on errors
					return "", "", err
				}
				continue
			}
			if err := s.expect('[', "[ starting header.format"); err != nil {
				return "", "", err
			}
			for i := 0; ; i++ {
				c, err := s.peek()
				if err != nil {
					return "", "", err
				}
				if c == ']' {
					s.pos++
					break
				}
				if i > 0 {
					if err := s.expect(',', ", in header.format"); err != nil {
						return "", "", err
					}
				}
				name, err := s.str()
				if err != nil {
					return "", "", err
				}
				d.format = append(d.format, string(name))
			}
		default:
			if err := s.skip(); err != nil {
				return "", "", err
			}
		}
	}
}

func (d *v2JSON) columns() []string { return d.format }
func (d *v2JSON) nextPage() string  { return d.nextURL }

// trailing checks that nothing but white space follows the envelope.
func (d *v2JSON) trailing() error {
	_, err := d.s.peek()
	if err == nil {
		return d.s.syntax("expected the end of the body after the JSON envelope")
	}
	if d.s.eof && d.s.rerr == nil {
		return nil
	}
	return err
}

func (d *v2JSON) next(r *spx.Row) (bool, error) {
	s := &d.s
	for {
		switch d.st {
		case stDone:
			return false, nil
		case stItems:
			c, err := s.peek()
			if err != nil {
				return false, err
			}
			if c == ']' {
				s.pos++
				if err := d.finish(); err != nil {
					return false, err
				}
				d.st = stDone
				return false, nil
			}
			if !d.firstItem {
				if err := s.expect(',', ", between response items"); err != nil {
					return false, err
				}
			}
			d.firstItem = false
			it, err := s.object()
			if err != nil {
				return false, err
			}
			d.members, d.have = *it, false
			d.held.reset()
			d.st = stMembers
		case stMembers:
			key, ok, err := d.members.next()
			if err != nil {
				return false, err
			}
			if !ok {
				d.st = stItems
				if d.held.rows > 0 {
					if !d.have {
						return false, malformed(s.url, "a response item has ticks but no contract", s.head)
					}
					d.st, d.emit = stEmit, 0
				}
				continue
			}
			switch string(key) {
			case "contract":
				if err := d.contract(); err != nil {
					return false, err
				}
			case "ticks":
				if err := s.expect('[', "[ starting ticks"); err != nil {
					return false, err
				}
				d.first = true
				if d.have {
					d.st = stTicks
					continue
				}
				// The contract comes after its ticks: hold them (one
				// contract's ticks of one page) until it is known.
				for {
					more, err := d.tick(&d.held)
					if err != nil {
						return false, err
					}
					if !more {
						break
					}
				}
			default:
				if err := s.skip(); err != nil {
					return false, err
				}
			}
		case stTicks:
			d.arena.reset()
			more, err := d.tick(&d.arena)
			if err != nil {
				return false, err
			}
			if !more {
				d.st = stMembers
				continue
			}
			r.Contract = d.con
			d.arena.fill(0, r)
			return true, nil
		case stEmit:
			if d.emit < d.held.rows {
				r.Contract = d.con
				d.held.fill(d.emit, r)
				d.emit++
				return true, nil
			}
			d.held.reset()
			d.st = stItems
		}
	}
}

// finish reads the envelope's remaining members and its end.
func (d *v2JSON) finish() error {
	for {
		_, ok, err := d.envMembers().next()
		if err != nil {
			return err
		}
		if !ok {
			return d.trailing()
		}
		if err := d.s.skip(); err != nil {
			return err
		}
	}
}

func (d *v2JSON) envMembers() *memberIter {
	// After the response array the envelope iterator continues; it is not
	// the first member any more.
	return &memberIter{s: &d.s, first: false}
}

// contract reads {"root":..,"expiration":..,"strike":..,"right":..}.
func (d *v2JSON) contract() error {
	s := &d.s
	it, err := s.object()
	if err != nil {
		return err
	}
	var got int
	for {
		key, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		tok, _, err := s.scalar()
		if err != nil {
			return err
		}
		switch string(key) {
		case "root":
			d.con.Root = d.cc.rootOf(tok)
			got |= 1
		case "expiration":
			if d.con.Expiration, ok = d.cc.exp.intDate(tok); !ok {
				return malformed(s.url, fmt.Sprintf("contract expiration %q is not a YYYYMMDD date", tok), s.head)
			}
			got |= 2
		case "strike":
			if d.con.Strike, ok = d.cc.strikeOf(tok, 1000); !ok {
				return malformed(s.url, fmt.Sprintf("contract strike %q is not a positive number", tok), s.head)
			}
			got |= 4
		case "right":
			if d.con.Right, ok = parseRight(tok); !ok {
				return malformed(s.url, fmt.Sprintf("contract right %q is not C or P", tok), s.head)
			}
			got |= 8
		}
	}
	if got != 15 || d.con.Root == "" {
		return malformed(s.url, "a contract lacks root, expiration, strike or right", s.head)
	}
	d.have = true
	// Ticks held before the contract arrived take it now.
	return nil
}

// tick reads one tick array into a (a new row) and reports whether there was
// one; at the ticks array's closing bracket it returns false.
func (d *v2JSON) tick(a *rowArena) (bool, error) {
	s := &d.s
	c, err := s.peek()
	if err != nil {
		return false, err
	}
	if c == ']' {
		s.pos++
		return false, nil
	}
	if !d.first {
		if c != ',' {
			return false, s.syntax("expected , or ] between ticks")
		}
		s.pos++
	}
	d.first = false
	if err := s.expect('[', "[ starting a tick"); err != nil {
		return false, err
	}
	d.rows++
	a.begin(0)
	n := len(d.m.byField)
	i := 0
	if c, err = s.peek(); err != nil {
		return false, err
	} else if c == ']' {
		s.pos++
		return false, badRow(s.url, d.rows, fmt.Sprintf("the tick is empty; header.format has %d fields", n), []byte("[]"))
	}
	for {
		tok, kind, err := s.scalar()
		if err != nil {
			return false, err
		}
		if i < n {
			switch f := d.m.byField[i]; {
			case f == fieldDate:
				dt, ok := d.dc.intDate(tok)
				if !ok || kind != kindNumber {
					return false, badRow(s.url, d.rows, fmt.Sprintf("date %q is not a YYYYMMDD date", tok), d.rowText(a, i, tok))
				}
				a.setDate(dt)
			case f >= 0:
				switch {
				case kind == kindNull && d.m.cols[f].Optional:
				case kind != kindNumber || !isNumber(tok):
					return false, badRow(s.url, d.rows, fmt.Sprintf("column %s is %q, not a finite number", d.format[i], tok), d.rowText(a, i, tok))
				default:
					a.set(f, tok)
				}
			}
		}
		i++
		var c byte
		if s.pos < s.end && (s.buf[s.pos] == ',' || s.buf[s.pos] == ']') {
			c = s.buf[s.pos]
		} else if c, err = s.peek(); err != nil {
			return false, err
		}
		s.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			s.pos--
			return false, s.syntax("expected , or ] in a tick")
		}
	}
	if i != n {
		tail := []byte("]")
		if i > n {
			tail = []byte(",…]")
		}
		return false, badRow(s.url, d.rows, fmt.Sprintf("the tick has %d fields, header.format has %d (%v)", i, n, d.format), d.rowText(a, min(i, n), tail))
	}
	return true, nil
}

// rowText rebuilds the current tick's first k fields (as decoded so far)
// followed by extra, for an error message.
func (d *v2JSON) rowText(a *rowArena, k int, extra []byte) []byte {
	b := []byte{'['}
	base := (a.rows - 1) * 2 * a.n
	for j := range k {
		if j > 0 {
			b = append(b, ',')
		}
		switch f := d.m.byField[j]; {
		case f == fieldDate:
			b = strconv.AppendInt(b, int64(a.dates[a.rows-1].Int()), 10)
		case f >= 0 && a.offs[base+2*f] >= 0:
			b = append(b, a.buf[a.offs[base+2*f]:a.offs[base+2*f+1]]...)
		default:
			b = append(b, "null"...)
		}
	}
	if k > 0 && len(extra) > 0 && extra[0] != ']' && extra[0] != ',' {
		b = append(b, ',')
	}
	return append(b, extra...)
}

// envHeader is the v2 envelope header, for small bodies (lists, errors).
type envHeader struct {
	ErrorType string   `json:"error_type"`
	ErrorMsg  string   `json:"error_msg"`
	NextPage  string   `json:"next_page"`
	Format    []string `json:"format"`
}

func parseEnvelopeHeader(b []byte) (envHeader, bool) {
	var e struct {
		Header *envHeader `json:"header"`
	}
	if json.Unmarshal(b, &e) != nil || e.Header == nil {
		return envHeader{}, false
	}
	return *e.Header, true
}
