package thetadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetaspec"
)

// Check is the outcome of exercising one endpoint in DeepCheck.
type Check struct {
	Endpoint    string   `json:"endpoint"` // the spec path, or a v2 path
	URL         string   `json:"url"`
	Rows        int      `json:"rows"`        // rows spx read
	Differences []string `json:"differences"` // from what spx expects; empty when none
	// Notes are answers that differ from the spec's examples in ways spx
	// reads anyway (a JSON shape, a line ending): worth reporting, not a
	// problem.
	Notes []string `json:"notes,omitempty"`
}

// deepSample bounds the rows of one raw answer whose cells DeepCheck types.
const deepSample = 2000

// DeepCheck exercises each list and history endpoint spx uses against the
// terminal, for root, and reports every difference from what spx expects:
// columns and their order, value types and formats, line endings, the JSON
// envelope, the no-data status and paging, then whether spx's own readers
// take the answer. date is the trade date to ask about (zero: the latest
// trade date of the nearest expiration). It returns an error only when
// nothing could be asked (no expirations at all).
func (c *Client) DeepCheck(ctx context.Context, root string, date spx.Date) ([]Check, error) {
	tab, err := thetaspec.Load()
	if err != nil {
		return nil, err
	}
	var out []Check
	add := func(ch Check) { out = append(out, ch) }

	exps, err := c.Expirations(ctx, root)
	ch := c.rawCheck(ctx, tab, "/option/list/expirations", "/v3/option/list/expirations?symbol="+root, "/v2/list/expirations?root="+root)
	ch.Rows = len(exps)
	if err != nil {
		ch.Differences = append(ch.Differences, "spx could not read it: "+err.Error())
		add(ch)
		return out, fmt.Errorf("listing %s expirations: %w", root, err)
	}
	add(ch)
	if len(exps) == 0 {
		return out, fmt.Errorf("the terminal lists no expirations for %s", root)
	}
	if date.IsZero() {
		date = latestTradeDate(ctx, c, root, exps)
	}
	exp := exps[len(exps)-1]
	contracts, err := c.Contracts(ctx, date, []string{root})
	ch = c.rawCheck(ctx, tab, "/option/list/contracts/{request_type}", "/v3/option/list/contracts/quote?date="+date.Compact()+"&symbol="+root,
		fmt.Sprintf("/v2/list/contracts/option/quote?start_date=%d&root=%s", date.Int(), root))
	ch.Rows = len(contracts)
	if err != nil {
		ch.Differences = append(ch.Differences, "spx could not read it: "+err.Error())
	} else if len(contracts) == 0 {
		ch.Differences = append(ch.Differences, "no contracts on "+date.String())
	} else {
		exp = contracts[0].Expiration
		for _, k := range contracts {
			exp = min(exp, k.Expiration)
		}
	}
	add(ch)
	dates, err := c.ExpirationDates(ctx, root, exp)
	ch = c.rawCheck(ctx, tab, "/option/list/dates/{request_type}", "/v3/option/list/dates/quote?symbol="+root+"&expiration="+exp.Compact(),
		fmt.Sprintf("/v2/list/dates/option/quote?root=%s&exp=%d", root, exp.Int()))
	ch.Rows = len(dates)
	if err != nil {
		ch.Differences = append(ch.Differences, "spx could not read it: "+err.Error())
	} else if !slices.Contains(dates, date) {
		ch.Differences = append(ch.Differences, fmt.Sprintf("the trade dates of %s do not include %s, on which list/contracts listed it", exp, date))
	}
	add(ch)

	for _, ds := range spx.Datasets {
		req := spx.HistoryRequest{Dataset: ds, Root: root, Date: date, Expiration: exp, Interval: time.Hour, Right: 'C'}
		pq := c.historyPath(req)
		ch := c.rawCheck(ctx, tab, ds.V3Path(), strings.Replace(pq, "&format="+c.o.V3Format, "", 1), pq)
		n, err := c.readAll(ctx, req)
		ch.Rows = n
		if err != nil {
			ch.Differences = append(ch.Differences, "spx could not read it: "+err.Error())
		} else if n == 0 {
			ch.Differences = append(ch.Differences, "no rows")
		}
		// A day without a session must be 472 NO_DATA (spx records the job
		// as empty, not failed).
		sat := date
		for sat.Weekday() != time.Saturday {
			sat = sat.AddDays(-1)
		}
		req.Date = sat
		if _, err := c.readAll(ctx, req); !errors.Is(err, spx.ErrNoData) {
			ch.Differences = append(ch.Differences, fmt.Sprintf("a Saturday (%s) did not answer 472 NO_DATA: %v", sat, err))
		}
		add(ch)
		if ds.AllExpirations() {
			add(c.chainCheck(ctx, ds, root, date, exp, n))
		}
	}
	if c.gen == "v3" {
		out = append(out, c.v3OnlyChecks(ctx, tab, root, date, exp)...)
	}
	return out, nil
}

// v3OnlyChecks exercises the v3 endpoints spx does not read but the
// simulator serves (the symbol list, the trade lists, at_time quote and
// trade), so a real terminal's answers are compared with the spec's
// contract as the simulator's are (docs/thetadata.md).
func (c *Client) v3OnlyChecks(ctx context.Context, tab *thetaspec.Table, root string, date, exp spx.Date) []Check {
	var out []Check
	ch, body := c.rawCheckBody(ctx, tab, "/option/list/symbols", "/v3/option/list/symbols", "")
	if !slices.Contains(strings.Fields(strings.ReplaceAll(string(body), ",", " ")), root) {
		ch.Differences = append(ch.Differences, "format=csv: "+root+" is not among the symbols")
	}
	out = append(out, ch)
	for _, tc := range []struct{ endpoint, name, pq string }{
		{"/option/list/dates/{request_type}", "request_type=trade", "/v3/option/list/dates/trade?symbol=" + root + "&expiration=" + exp.Compact()},
		{"/option/list/contracts/{request_type}", "request_type=trade", "/v3/option/list/contracts/trade?date=" + date.Compact() + "&symbol=" + root},
		{"/option/at_time/quote", "", "/v3/option/at_time/quote?symbol=" + root + "&expiration=" + exp.Compact() + "&start_date=" + date.Compact() + "&end_date=" + date.Compact() + "&time_of_day=10:00:00.000&right=call"},
		{"/option/at_time/trade", "", "/v3/option/at_time/trade?symbol=" + root + "&expiration=" + exp.Compact() + "&start_date=" + date.Compact() + "&end_date=" + date.Compact() + "&time_of_day=15:00:00.000&right=call"},
	} {
		ch, _ := c.rawCheckBody(ctx, tab, tc.endpoint, tc.pq, "")
		if tc.name != "" {
			ch.Endpoint += " " + tc.name
		}
		if ch.Rows == 0 {
			ch.Differences = append(ch.Differences, "no rows")
		}
		out = append(out, ch)
	}
	return out
}

// chainCheck asks ds for every expiration of date at once (expiration=*,
// what the planner sends for quote, eod and open_interest) and checks what
// the fetcher relies on: spx reads it, each expiration's rows come
// together, and exp's rows are the perExp rows its own request answered.
// A difference here is not fatal to an archive (the fetcher falls back to
// one request per expiration) but costs a request per day and root, and
// thetadata.chain_requests false avoids it.
func (c *Client) chainCheck(ctx context.Context, ds spx.Dataset, root string, date, exp spx.Date, perExp int) Check {
	req := spx.HistoryRequest{Dataset: ds, Root: root, Date: date, AllExpirations: true, Interval: time.Hour, Right: 'C'}
	ch := Check{Endpoint: ds.V3Path() + " expiration=*", URL: c.historyPath(req)}
	if c.gen == "v2" {
		ch.Endpoint = "/v2" + ds.V2Path() + " exp=0"
	}
	s, err := c.History(ctx, req)
	if err != nil {
		ch.Differences = append(ch.Differences, "spx could not read it: "+err.Error()+" (set thetadata.chain_requests false)")
		return ch
	}
	defer s.Close()
	perExpiration := map[spx.Date]int{}
	var last spx.Date
	apart := false
	for s.Next() {
		e := s.Row().Contract.Expiration
		if _, seen := perExpiration[e]; seen && e != last {
			apart = true
		}
		perExpiration[e]++
		last = e
		ch.Rows++
	}
	if err := s.Err(); err != nil {
		ch.Differences = append(ch.Differences, "spx could not read it: "+err.Error()+" (set thetadata.chain_requests false)")
		return ch
	}
	if apart {
		ch.Differences = append(ch.Differences, "the rows of one expiration do not come together: every chain fetch would be split into one request per expiration (set thetadata.chain_requests false)")
	}
	if got := perExpiration[exp]; got != perExp {
		ch.Differences = append(ch.Differences, fmt.Sprintf("%d rows of expiration %s, its own request answered %d", got, exp, perExp))
	}
	ch.Notes = append(ch.Notes, fmt.Sprintf("%d expirations in one answer", len(perExpiration)))
	return ch
}

// latestTradeDate is the latest trade date, not after today, of the
// nearest expiration from today on (or of the last one listed).
func latestTradeDate(ctx context.Context, c *Client, root string, exps []spx.Date) spx.Date {
	today := spx.DateOf(time.Now().In(spx.NewYork))
	e := exps[len(exps)-1]
	for _, x := range exps {
		if x >= today {
			e = x
			break
		}
	}
	dates, err := c.ExpirationDates(ctx, root, e)
	best := spx.Date(0)
	for _, d := range dates {
		if d <= today && d > best {
			best = d
		}
	}
	if err != nil || best == 0 {
		return min(e, today)
	}
	return best
}

func (c *Client) readAll(ctx context.Context, req spx.HistoryRequest) (int, error) {
	s, err := c.History(ctx, req)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	n := 0
	for s.Next() {
		n++
	}
	return n, s.Err()
}

// rawCheck asks a v3 terminal pq (no format parameter) in csv, ndjson and
// json and compares each answer with endpoint's contract. A v2 terminal has
// no contract table: the check is named by v2pq and rests on spx's own
// readers (the caller's part).
func (c *Client) rawCheck(ctx context.Context, tab *thetaspec.Table, endpoint, pq, v2pq string) Check {
	ch, _ := c.rawCheckBody(ctx, tab, endpoint, pq, v2pq)
	return ch
}

// rawCheckBody is rawCheck that also returns the CSV answer; the check's
// Rows are that answer's rows.
func (c *Client) rawCheckBody(ctx context.Context, tab *thetaspec.Table, endpoint, pq, v2pq string) (Check, []byte) {
	ch := Check{Endpoint: endpoint, URL: c.base + pq, Differences: []string{}}
	if c.gen != "v3" {
		path, _, _ := strings.Cut(v2pq, "?")
		ch.Endpoint, ch.URL = path, c.base+v2pq
		return ch, nil
	}
	e, ok := tab.Endpoint(endpoint)
	if !ok {
		ch.Differences = append(ch.Differences, "not in the contract table")
		return ch, nil
	}
	var csvBody []byte
	sep := "?"
	if strings.Contains(pq, "?") {
		sep = "&"
	}
	for _, format := range []string{"csv", "ndjson", "json"} {
		body, hdr, err := c.rawGet(ctx, pq+sep+"format="+format)
		if err != nil {
			ch.Differences = append(ch.Differences, fmt.Sprintf("format=%s: %v", format, err))
			continue
		}
		if format == "csv" {
			csvBody = body
			ch.Rows = max(0, len(strings.Split(strings.TrimSpace(string(body)), "\n"))-1)
		}
		if np := strings.TrimSpace(hdr.Get("Next-Page")); np != "" && np != "null" {
			ch.Differences = append(ch.Differences, fmt.Sprintf("format=%s: a Next-Page header (%s): spx does not page v3 answers", format, np))
		}
		diffs, notes := compareAnswer(e, format, body)
		for _, d := range diffs {
			ch.Differences = append(ch.Differences, "format="+format+": "+d)
		}
		for _, n := range notes {
			ch.Notes = append(ch.Notes, "format="+format+": "+n)
		}
	}
	return ch, csvBody
}

type header interface{ Get(string) string }

// rawGet reads at most 32 MiB of an answer.
func (c *Client) rawGet(ctx context.Context, pq string) ([]byte, header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	resp, err := c.get(ctx, pq)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	return b, resp.Header, err
}

// compareAnswer lists how body differs from the contract of e in format:
// differences spx does not expect, and notes on what it reads anyway.
func compareAnswer(e *thetaspec.Endpoint, format string, body []byte) (out, notes []string) {
	cols := e.ColumnNames()
	note := func(format string, args ...any) {
		if len(out) < 12 {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	cell := func(name, v string, quoted *bool) {
		for i := range e.Response.Columns {
			if c := &e.Response.Columns[i]; c.Name == name {
				if err := thetaspec.CheckCell(c, v, quoted); err != nil {
					note("%v", err)
				}
				return
			}
		}
		note("column %s is not in the spec", name)
	}
	switch format {
	case "csv":
		if e.Response.CSVLineEnding == `\r\n` && !bytes.Contains(body, []byte("\r\n")) {
			notes = append(notes, `lines end with \n, the spec's example with \r\n (spx reads both)`)
		}
		lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n"), "\n")
		if got := lines[0]; got != strings.Join(cols, ",") {
			note("header %s, the spec has %s", got, strings.Join(cols, ","))
			return out, notes
		}
		for _, l := range lines[1:min(len(lines), deepSample+1)] {
			f := strings.Split(l, ",")
			if len(f) != len(cols) {
				note("a row of %d fields: %s", len(f), l)
				continue
			}
			for j, v := range f {
				cell(cols[j], v, nil)
			}
		}
	case "ndjson":
		for n, l := range bytes.Split(bytes.TrimSpace(body), []byte("\n")) {
			if n >= deepSample {
				break
			}
			out = append(out, compareObject(l, cols, cell)...)
			if len(out) > 12 {
				break
			}
		}
	case "json":
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			note("not a JSON object: %v", err)
			return out, notes
		}
		resp, hasResp := top["response"]
		switch {
		case !hasResp:
			notes = append(notes, "the columnar shape {\"column\":[…]} (as lumibot and trade4ticks describe real terminals), not the spec example's {\"response\":[…]} (spx reads both)")
			var keys []string
			for k := range top {
				keys = append(keys, k)
			}
			if !sameNames(keys, cols) {
				note("arrays %v, the spec's columns are %v", sorted(keys), sorted(cols))
			}
		case e.Response.JSONShape == "contract+data":
			var els []struct {
				Contract json.RawMessage   `json:"contract"`
				Data     []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(resp, &els); err != nil || len(els) == 0 || els[0].Contract == nil {
				note("\"response\" is not [{\"contract\":{…},\"data\":[…]}, …] as the spec's example")
			}
		}
	}
	if len(out) > 12 {
		out = append(out[:12], fmt.Sprintf("and %d more like these", len(out)-12))
	}
	return out, notes
}

func compareObject(l []byte, cols []string, cell func(name, v string, quoted *bool)) []string {
	d := json.NewDecoder(bytes.NewReader(l))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return []string{"a line is not a JSON object: " + err.Error()}
	}
	var keys []string
	for k, v := range obj {
		keys = append(keys, k)
		s, isString := v.(string)
		if !isString {
			s = fmt.Sprint(v)
		}
		cell(k, s, &isString)
	}
	if !sameNames(keys, cols) {
		return []string{fmt.Sprintf("keys %v, the spec's columns are %v", sorted(keys), sorted(cols))}
	}
	return nil
}

func sameNames(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

func sorted(a []string) []string {
	out := slices.Clone(a)
	slices.Sort(out)
	return out
}
