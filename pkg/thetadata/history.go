package thetadata

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// pageDecoder decodes one response (one page, for v2) into rows.
type pageDecoder interface {
	// next decodes the next row into r; false with a nil error at the
	// clean end of the page.
	next(r *spx.Row) (bool, error)
	// nextPage is the v2 next-page URL, "" when this is the last page.
	nextPage() string
	// columns is the response's column header as sent.
	columns() []string
}

// History streams the rows of one dataset for (root, date, expiration). An
// answer other than 200 is returned as *Error (472 NO_DATA: errors.Is
// spx.ErrNoData, class empty); so is a v2 200 envelope carrying an
// error_type. Errors later in the stream end it through Err.
func (c *Client) History(ctx context.Context, req spx.HistoryRequest) (spx.RowStream, error) {
	if req.Dataset.Columns() == nil || req.Root == "" || req.Date.IsZero() || (req.Expiration.IsZero() && !req.AllExpirations) {
		return nil, spx.Permanent(fmt.Errorf("history request %+v is incomplete: it needs a known dataset, a root, a date and an expiration", req))
	}
	if req.Right != 0 && req.Right != 'C' && req.Right != 'P' {
		return nil, spx.Permanent(fmt.Errorf("history request right %q: use 'C', 'P' or 0 for both", req.Right))
	}
	sctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	pq := c.historyPath(req)
	resp, err := c.get(sctx, pq)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &stream{c: c, ctx: sctx, cancel: cancel, req: req, resp: resp}
	s.info = spx.StreamInfo{Generation: c.gen, URL: resp.url, Pages: 1, Latency: resp.latency}
	s.dec, err = c.openPage(resp, req, nil)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.info.Header = s.dec.columns()
	c.log.Debug("history stream opened", "url", resp.url, "latency", resp.latency)
	return s, nil
}

func (c *Client) historyPath(req spx.HistoryRequest) string {
	var b strings.Builder
	if c.gen == "v3" {
		b.WriteString("/v3")
		b.WriteString(req.Dataset.V3Path())
		exp := req.Expiration.Compact()
		if req.AllExpirations {
			exp = "*"
		}
		fmt.Fprintf(&b, "?symbol=%s&expiration=%s", url.QueryEscape(req.Root), exp)
		if req.Dataset == spx.EOD {
			// The spec's eod takes a date range only (start_date and
			// end_date required, no date).
			fmt.Fprintf(&b, "&start_date=%s&end_date=%s", req.Date.Compact(), req.Date.Compact())
		} else {
			b.WriteString("&date=" + req.Date.Compact())
		}
		if req.Dataset.Intraday() {
			b.WriteString("&interval=" + v3Interval(req.Interval))
		}
		switch req.Right {
		case 'C':
			b.WriteString("&right=call")
		case 'P':
			b.WriteString("&right=put")
		}
		b.WriteString(c.formatParam())
		return b.String()
	}
	b.WriteString("/v2")
	b.WriteString(req.Dataset.V2Path())
	exp := req.Expiration.Int()
	if req.AllExpirations {
		exp = 0
	}
	fmt.Fprintf(&b, "?root=%s&exp=%d&start_date=%d&end_date=%d", url.QueryEscape(req.Root), exp, req.Date.Int(), req.Date.Int())
	if req.Dataset.Intraday() {
		ivl := req.Interval.Milliseconds()
		if ivl <= 0 {
			ivl = 60000
		}
		b.WriteString("&ivl=" + strconv.FormatInt(ivl, 10))
	}
	if req.Right != 0 {
		b.WriteString("&right=" + string(req.Right))
	}
	if c.o.V2CSV {
		b.WriteString("&use_csv=true")
	}
	return b.String()
}

// v3Interval renders an interval the way v3 spells it (1m, 5s, 100ms, 1h).
func v3Interval(d time.Duration) string {
	switch {
	case d <= 0:
		return "1m"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// openPage starts decoding a 200 response; prev is the previous page's
// decoder (v2 CSV pages may omit the header line).
func (c *Client) openPage(resp *response, req spx.HistoryRequest, prev pageDecoder) (pageDecoder, error) {
	if c.gen == "v2" && !c.o.V2CSV {
		return openV2JSON(resp.Body, req.Dataset, resp.url)
	}
	body := io.Reader(resp.Body)
	if c.gen == "v3" {
		body = c.v3Body(resp)
	}
	rec, err := newRecords(body, resp.url)
	if err != nil {
		return nil, err
	}
	if c.gen == "v2" && prev != nil && len(rec.header) > 0 && rec.header[0] != "root" {
		rec.reuseHeader(prev.columns())
	}
	m, err := newFieldMap(req.Dataset, rec.header, c.gen, true, resp.url)
	if err != nil {
		return nil, err
	}
	d := newCSVDecoder(rec, m, c.gen, req.Date, resp.url)
	if c.gen == "v2" {
		if np := strings.TrimSpace(resp.Header.Get("Next-Page")); np != "" && np != "null" {
			d.page = np
		}
	}
	return d, nil
}

// pagePath turns a next-page URL into the path (and query) to request on the
// client's own base URL: through a forwarding proxy the terminal's host is
// not the one spx talks to.
func pagePath(next, from string) (string, error) {
	u, err := url.Parse(next)
	if err != nil || u.Path == "" {
		return "", spx.Permanent(fmt.Errorf("decoding %s: next page %q is not a URL: the terminal's answer is malformed; report it", from, next))
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}

// stream is the RowStream of History: it decodes page after page, asking
// for the next page only once the current one is consumed.
type stream struct {
	c      *Client
	ctx    context.Context // the request's overall deadline (Options.Timeout)
	cancel context.CancelFunc
	req    spx.HistoryRequest
	resp   *response
	dec    pageDecoder
	row    spx.Row
	info   spx.StreamInfo
	err    error
	done   bool
}

var _ spx.StagedStream = (*stream)(nil)

func (s *stream) Next() bool {
	if s.err != nil || s.done {
		return false
	}
	for {
		ok, err := s.dec.next(&s.row)
		if ok {
			return true
		}
		if !s.turnPage(err) {
			return false
		}
	}
}

// NextStaged is Next that also appends the row's staged line to dst: the
// CSV decoder writes it from the line, reusing what repeats across rows.
func (s *stream) NextStaged(dst []byte) ([]byte, bool) {
	if s.err != nil || s.done {
		return dst, false
	}
	for {
		var ok bool
		var err error
		if cd, isCSV := s.dec.(*csvDecoder); isCSV {
			dst, ok, err = cd.nextStaged(dst, s.req.Dataset, &s.row)
		} else if ok, err = s.dec.next(&s.row); ok {
			dst = spx.AppendStaged(dst, s.req.Dataset, &s.row)
		}
		if ok {
			return dst, true
		}
		if !s.turnPage(err) {
			return dst, false
		}
	}
}

// turnPage handles the end of the current page: err from its decoder ends
// the stream; otherwise it opens the next page, false when there is none.
func (s *stream) turnPage(err error) bool {
	if err != nil {
		s.fail(err)
		return false
	}
	np := s.dec.nextPage()
	_ = s.resp.Body.Close()
	if np == "" {
		s.done = true
		s.cancel()
		return false
	}
	pq, err := pagePath(np, s.resp.url)
	if err != nil {
		s.fail(err)
		return false
	}
	resp, err := s.c.get(s.ctx, pq)
	if err != nil {
		s.fail(fmt.Errorf("requesting page %d: %w", s.info.Pages+1, err))
		return false
	}
	s.resp = resp
	s.info.Pages++
	dec, err := s.c.openPage(resp, s.req, s.dec)
	if err != nil {
		s.fail(fmt.Errorf("reading page %d: %w", s.info.Pages, err))
		return false
	}
	s.dec = dec
	return true
}

func (s *stream) fail(err error) {
	s.err = err
	_ = s.resp.Body.Close()
	s.cancel()
}

func (s *stream) Row() *spx.Row        { return &s.row }
func (s *stream) Err() error           { return s.err }
func (s *stream) Info() spx.StreamInfo { return s.info }

func (s *stream) Close() error {
	if s.resp != nil {
		_ = s.resp.Body.Close()
	}
	s.cancel()
	return nil
}
