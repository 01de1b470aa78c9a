package thetadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spx-archive/spx/pkg/spx"
)

// maxListBody bounds a v2 list answer held in memory (lists are small: a
// day's contracts are a few thousand).
const maxListBody = 256 << 20

// Expirations lists every expiration ever listed for root.
func (c *Client) Expirations(ctx context.Context, root string) ([]spx.Date, error) {
	if c.gen == "v3" {
		var out []spx.Date
		err := c.v3List(ctx, "/v3/option/list/expirations?symbol="+url.QueryEscape(root), []string{"expiration"},
			func(f [][]byte, dc *dateCache) error {
				d, ok := dc.parse(f[0])
				if !ok {
					return fmt.Errorf("expiration %q is not a date", f[0])
				}
				out = append(out, d)
				return nil
			})
		return sortDates(out), err
	}
	return c.v2Dates(ctx, "/v2/list/expirations?root="+url.QueryEscape(root))
}

// ExpirationDates lists the trade dates on which an expiration has data.
func (c *Client) ExpirationDates(ctx context.Context, root string, exp spx.Date) ([]spx.Date, error) {
	if c.gen == "v3" {
		var out []spx.Date
		err := c.v3List(ctx, "/v3/option/list/dates/quote?symbol="+url.QueryEscape(root)+"&expiration="+exp.Compact(), []string{"date"},
			func(f [][]byte, dc *dateCache) error {
				d, ok := dc.parse(f[0])
				if !ok {
					return fmt.Errorf("date %q is not a date", f[0])
				}
				out = append(out, d)
				return nil
			})
		return sortDates(out), err
	}
	return c.v2Dates(ctx, fmt.Sprintf("/v2/list/dates/option/quote?root=%s&exp=%d", url.QueryEscape(root), exp.Int()))
}

// Contracts lists the contracts quoted on date for the roots.
func (c *Client) Contracts(ctx context.Context, date spx.Date, roots []string) ([]spx.Contract, error) {
	rs := make([]string, len(roots))
	for i, r := range roots {
		rs[i] = url.QueryEscape(r)
	}
	list := strings.Join(rs, ",")
	var out []spx.Contract
	if c.gen == "v3" {
		var cc contractCache
		err := c.v3List(ctx, "/v3/option/list/contracts/quote?date="+date.Compact()+"&symbol="+list, []string{"symbol", "expiration", "strike", "right"},
			func(f [][]byte, dc *dateCache) error {
				k, err := contractOf(&cc, f[0], f[1], f[2], f[3], 1)
				if err != nil {
					return err
				}
				out = append(out, k)
				return nil
			})
		return out, err
	}
	body, u, err := c.v2ListBody(ctx, fmt.Sprintf("/v2/list/contracts/option/quote?start_date=%d&root=%s", date.Int(), list))
	if err != nil {
		return nil, err
	}
	var rows [][]json.RawMessage
	format, err := decodeV2List(body, u, &rows)
	if err != nil {
		return nil, err
	}
	idx := make([]int, 4)
	for i, name := range []string{"root", "expiration", "strike", "right"} {
		if idx[i] = slices.Index(format, name); idx[i] < 0 {
			return nil, malformed(u, fmt.Sprintf("header.format %v has no %s column", format, name), body)
		}
	}
	var cc contractCache
	for n, row := range rows {
		if len(row) != len(format) {
			return nil, malformed(u, fmt.Sprintf("contract %d has %d fields, header.format has %d", n+1, len(row), len(format)), body)
		}
		k, err := contractOf(&cc, unquote(row[idx[0]]), row[idx[1]], row[idx[2]], unquote(row[idx[3]]), 1000)
		if err != nil {
			return nil, malformed(u, fmt.Sprintf("contract %d: %v", n+1, err), body)
		}
		out = append(out, k)
	}
	return out, nil
}

func unquote(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

func contractOf(cc *contractCache, root, exp, strike, right []byte, div float64) (spx.Contract, error) {
	var k spx.Contract
	var ok bool
	if len(root) == 0 {
		return k, errors.New("empty root")
	}
	k.Root = cc.rootOf(root)
	if k.Expiration, ok = cc.exp.parse(exp); !ok {
		return k, fmt.Errorf("expiration %q is not a date", exp)
	}
	if k.Strike, ok = cc.strikeOf(strike, div); !ok {
		return k, fmt.Errorf("strike %q is not a positive number", strike)
	}
	if k.Right, ok = parseRight(right); !ok {
		return k, fmt.Errorf("right %q is not C, P, CALL or PUT", right)
	}
	return k, nil
}

func sortDates(d []spx.Date) []spx.Date {
	slices.Sort(d)
	return slices.Compact(d)
}

// v3List reads a v3 list answer, mapping the wanted columns by name; each
// record's wanted fields are passed to fn in the order of want.
func (c *Client) v3List(ctx context.Context, pq string, want []string, fn func(f [][]byte, dc *dateCache) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	resp, err := c.get(ctx, pq+c.formatParam())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rec, err := newRecords(c.v3Body(resp), resp.url)
	if err != nil {
		return err
	}
	idx := make([]int, len(want))
	for i, name := range want {
		if idx[i] = slices.Index(rec.header, name); idx[i] < 0 {
			return spx.Permanent(fmt.Errorf("decoding %s: the answer has no %s column (header %q): check thetadata.api and the terminal version", resp.url, name, strings.Join(rec.header, ",")))
		}
	}
	sel := make([][]byte, len(want))
	var dc dateCache
	for n := 1; ; n++ {
		f, err := rec.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for i, j := range idx {
			sel[i] = f[j]
		}
		if err := fn(sel, &dc); err != nil {
			return badRow(resp.url, n, err.Error(), bytes.Join(f, []byte(",")))
		}
	}
}

// v2ListBody fetches a small v2 answer whole.
func (c *Client) v2ListBody(ctx context.Context, pq string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	resp, err := c.get(ctx, pq)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListBody))
	if err != nil {
		return nil, resp.url, err
	}
	return body, resp.url, nil
}

// decodeV2List decodes a v2 list envelope's response into out and returns
// header.format; an error_type other than "null" is returned as *Error.
func decodeV2List(body []byte, u string, out any) ([]string, error) {
	var env struct {
		Header   *envHeader      `json:"header"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		var se *json.SyntaxError
		if errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &se) && se.Offset >= int64(len(bytes.TrimRight(body, " \r\n\t")))) {
			return nil, truncated(u, "the JSON envelope ended before it was closed")
		}
		return nil, malformed(u, "the answer is not the v2 JSON envelope: "+err.Error(), body)
	}
	if env.Header == nil {
		return nil, malformed(u, "the JSON envelope has no header", body)
	}
	if t := env.Header.ErrorType; t != "" && t != "null" {
		return nil, newError(0, t, env.Header.ErrorMsg, u)
	}
	if len(env.Response) == 0 || string(env.Response) == "null" {
		return env.Header.Format, nil
	}
	if err := json.Unmarshal(env.Response, out); err != nil {
		return nil, malformed(u, "the response array has an unexpected shape: "+err.Error(), body)
	}
	return env.Header.Format, nil
}

// v2Dates reads a v2 list of YYYYMMDD integers.
func (c *Client) v2Dates(ctx context.Context, pq string) ([]spx.Date, error) {
	body, u, err := c.v2ListBody(ctx, pq)
	if err != nil {
		return nil, err
	}
	var vals []json.Number
	if _, err := decodeV2List(body, u, &vals); err != nil {
		return nil, err
	}
	out := make([]spx.Date, 0, len(vals))
	for _, v := range vals {
		n, err := strconv.Atoi(v.String())
		if err != nil {
			return nil, malformed(u, fmt.Sprintf("%q is not a YYYYMMDD date", v), body)
		}
		d, err := spx.DateFromInt(n)
		if err != nil {
			return nil, malformed(u, err.Error(), body)
		}
		out = append(out, d)
	}
	return sortDates(out), nil
}
