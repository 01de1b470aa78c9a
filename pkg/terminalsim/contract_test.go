package terminalsim

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/thetaspec"
)

// The simulator against spx's contract table of ThetaData's v3 OpenAPI
// file (pkg/thetaspec): every parameter the spec lists for an endpoint is
// read by the simulator (v3Params) or excepted with a reason, every value
// the spec allows is accepted and a value it does not allow answers 473,
// and every answer, in each format, has the spec's columns in order with
// the spec's types, line endings and JSON shape.

func loadContract(t *testing.T) (*thetaspec.Table, *thetaspec.Exceptions) {
	t.Helper()
	tab, err := thetaspec.Load()
	if err != nil {
		t.Fatal(err)
	}
	ex, err := thetaspec.LoadExceptions()
	if err != nil {
		t.Fatal(err)
	}
	return tab, ex
}

// contractCase is how the test calls one endpoint: the path's template
// values and a baseline query that answers rows.
type contractCase struct {
	vars map[string]string
	q    url.Values
}

func contractCases(s *Sim, exp spx.Date) map[string]contractCase {
	hist := func(extra ...string) url.Values {
		q := url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}, "date": {day0315.Compact()}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return q
	}
	rt := map[string]string{"request_type": "quote"}
	atTime := url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}, "start_date": {day0315.Compact()},
		"end_date": {day0315.Compact()}, "time_of_day": {"10:00:00.000"}}
	return map[string]contractCase{
		"/option/list/symbols":                  {nil, url.Values{}},
		"/option/at_time/quote":                 {nil, atTime},
		"/option/at_time/trade":                 {nil, atTime},
		"/option/list/expirations":              {nil, url.Values{"symbol": {"SPXW"}}},
		"/option/list/strikes":                  {nil, url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}}},
		"/option/list/dates/{request_type}":     {rt, url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()}}},
		"/option/list/contracts/{request_type}": {rt, url.Values{"symbol": {"SPXW"}, "date": {day0315.Compact()}}},
		"/option/history/greeks/first_order":    {nil, hist("interval", "1m", "end_time", "09:30:30")},
		"/option/history/quote":                 {nil, hist("interval", "1m", "end_time", "09:30:30")},
		"/option/history/ohlc":                  {nil, hist("interval", "1m", "end_time", "09:30:30")},
		"/option/history/eod": {nil, url.Values{"symbol": {"SPXW"}, "expiration": {exp.Compact()},
			"start_date": {day0315.Compact()}, "end_date": {day0315.Compact()}}},
		"/option/history/open_interest": {nil, hist()},
	}
}

// sampleValues are values the spec allows for p, for the simulator to
// accept.
func sampleValues(p *thetaspec.Param, exp spx.Date, strike string) []string {
	var out []string
	switch {
	case len(p.Enum) > 0:
		out = append(out, p.Enum...)
	case p.Name == "expiration":
		out = append(out, exp.Compact(), exp.String())
	case p.Format == "date":
		out = append(out, day0315.Compact(), day0315.String())
	case p.Format == "time":
		out = append(out, "09:31:00", "09:31:00.000")
	case p.Type == "integer":
		lo := 0
		if p.Minimum != nil {
			lo = *p.Minimum
		}
		out = append(out, strconv.Itoa(lo), strconv.Itoa(lo+3))
	case p.Name == "strike":
		out = append(out, strike)
	case p.Name == "symbol":
		out = append(out, "SPXW")
		if p.Type == "array" {
			out = append(out, "SPXW,SPX")
		}
	case p.Name == "annual_dividend" || p.Name == "rate_value":
		out = append(out, "0.01")
	}
	if p.Wildcard && !slices.Contains(out, "*") {
		out = append(out, "*")
	}
	return out
}

// badValue is a value the spec does not allow for p ("" when any string
// goes).
func badValue(p *thetaspec.Param) string {
	switch {
	case len(p.Enum) > 0:
		return "bogus"
	case p.Format == "date":
		return "2024/03/15"
	case p.Format == "time":
		return "9h31"
	case p.Type == "integer":
		return "-7"
	case p.Name == "strike":
		return "five"
	case !p.Wildcard && (p.Name == "expiration"):
		return "*"
	}
	return ""
}

func TestContractSimulatorParameters(t *testing.T) {
	tab, ex := loadContract(t)
	s := small(t, nil)
	exp := firstExp(t, s, "SPXW", day0315)
	strike := string(appendFixed(nil, s.strikesOf("SPXW", exp)[0], 3, false))
	cases := contractCases(s, exp)
	h := s.V3Handler()
	for i := range tab.Endpoints {
		e := &tab.Endpoints[i]
		t.Run(e.Path, func(t *testing.T) {
			c, ok := cases[e.Path]
			if !ok {
				t.Fatalf("no test case for %s", e.Path)
			}
			call := func(vars map[string]string, q url.Values) (int, []byte) {
				code, _, body := get(t, h, "/v3"+e.Fill(vars)+"?"+q.Encode())
				return code, body
			}
			if code, body := call(c.vars, c.q); code != 200 {
				t.Fatalf("baseline %s?%s: %d %s", e.Path, c.q.Encode(), code, body)
			}
			read := v3Params[e.Path]
			for _, name := range read {
				if _, ok := e.Param(name); !ok {
					t.Errorf("the simulator reads %s, which the spec does not list for %s", name, e.Path)
				}
			}
			for j := range e.Parameters {
				p := &e.Parameters[j]
				if !slices.Contains(read, p.Name) {
					if _, ok := thetaspec.Excepted(ex.Simulator, e.Path, "param:"+p.Name); !ok {
						t.Errorf("the spec lists %s (%s) and the simulator does not read it: implement it or add an exception with the reason", p.Name, p.Spec)
					}
					continue
				}
				with := func(v string) (map[string]string, url.Values) {
					vars, q := cloneVars(c.vars), cloneQuery(c.q)
					if p.In == "path" {
						vars[p.Name] = v
						return vars, q
					}
					if p.Name == "start_date" || p.Name == "end_date" {
						q.Del("date")
						q.Set("start_date", day0315.Compact())
						q.Set("end_date", day0315.Compact())
					}
					if p.Name == "date" {
						q.Del("start_date")
						q.Del("end_date")
					}
					q.Set(p.Name, v)
					return vars, q
				}
				for _, v := range sampleValues(p, exp, strike) {
					if why, ok := thetaspec.Excepted(ex.Simulator, e.Path, "param:"+p.Name+"="+v); ok {
						t.Logf("%s=%s excepted: %s", p.Name, v, why)
						continue
					}
					vars, q := with(v)
					if code, body := call(vars, q); code != 200 && code != 472 {
						t.Errorf("%s=%s (allowed by %s): %d %.200s", p.Name, v, p.Spec, code, body)
					}
				}
				if bad := badValue(p); bad != "" {
					vars, q := with(bad)
					code, body := call(vars, q)
					want := 473
					if p.In == "path" {
						want = 404 // an unknown path
					}
					if code != want {
						t.Errorf("%s=%s (not allowed by %s): %d %.200s, want %d", p.Name, bad, p.Spec, code, body, want)
					}
				}
				if p.Required && p.Default == "" && p.In == "query" {
					q := cloneQuery(c.q)
					q.Del(p.Name)
					if code, body := call(c.vars, q); code != 473 {
						t.Errorf("without the required %s: %d %.200s, want 473", p.Name, code, body)
					}
				}
			}
		})
	}
}

func cloneVars(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

var contentTypes = map[string]string{"csv": "text/csv", "ndjson": "application/x-ndjson", "json": "application/json"}

func TestContractSimulatorResponses(t *testing.T) {
	tab, ex := loadContract(t)
	spec := small(t, nil) // the default shape is the spec's
	s := small(t, func(c *Config) { c.JSONShape = JSONColumnar })
	exp := firstExp(t, s, "SPXW", day0315)
	cases := contractCases(s, exp)
	if _, ok := thetaspec.Excepted(ex.Simulator, "*", "format:json="+JSONColumnar); !ok {
		t.Errorf("the simulator's optional format=json shape (%s) is not the spec's: it needs an exception saying why", JSONColumnar)
	}
	for i := range tab.Endpoints {
		e := &tab.Endpoints[i]
		c := cases[e.Path]
		for _, format := range []string{"csv", "ndjson", "json", "json-" + JSONColumnar} {
			h := spec.V3Handler()
			if format == "json-"+JSONColumnar {
				h = s.V3Handler()
			}
			t.Run(e.Path+"/"+format, func(t *testing.T) {
				format, shape, _ := strings.Cut(format, "-")
				q := cloneQuery(c.q)
				q.Set("format", format)
				code, hdr, body := get(t, h, "/v3"+e.Fill(c.vars)+"?"+q.Encode())
				if code != 200 {
					t.Fatalf("%d %s", code, body)
				}
				ct := hdr.Get("Content-Type")
				if ct != contentTypes[format] || !slices.Contains(e.Response.ContentTypes, ct) {
					t.Errorf("Content-Type %q, the spec has %v", ct, e.Response.ContentTypes)
				}
				var problems []string
				switch format {
				case "csv":
					problems = checkCSV(e, ex, body)
				case "ndjson":
					for n, line := range bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n")) {
						problems = append(problems, checkObject(e, ex, line, e.Response.NDJSONKeys, "line "+strconv.Itoa(n+1))...)
					}
				case "json":
					if shape == JSONColumnar {
						problems = checkColumnar(e, ex, body)
					} else {
						problems = checkJSON(e, ex, body)
					}
				}
				for _, p := range problems[:min(len(problems), 10)] {
					t.Error(p)
				}
			})
		}
	}
}

// checkCSV checks a CSV answer: the header is the spec's columns in order,
// lines end as the spec's example does, every cell has its column's type.
func checkCSV(e *thetaspec.Endpoint, ex *thetaspec.Exceptions, body []byte) []string {
	var out []string
	eol := "\n"
	if e.Response.CSVLineEnding == `\r\n` {
		eol = "\r\n"
	}
	if !bytes.HasSuffix(body, []byte(eol)) || (eol == "\n" && bytes.Contains(body, []byte("\r"))) {
		out = append(out, "lines do not end with "+strconv.Quote(eol)+" as the spec's example does")
	}
	lines := strings.Split(strings.TrimSuffix(string(body), eol), eol)
	if got, want := lines[0], strings.Join(e.ColumnNames(), ","); got != want {
		return append(out, "header "+got+", the spec has "+want)
	}
	for n, line := range lines[1:] {
		cells := strings.Split(line, ",")
		if len(cells) != len(e.Response.Columns) {
			out = append(out, "row "+strconv.Itoa(n+1)+" has "+strconv.Itoa(len(cells))+" cells: "+line)
			continue
		}
		for j := range cells {
			out = append(out, checkCell(e, ex, &e.Response.Columns[j], cells[j], nil)...)
		}
	}
	return out
}

// checkCell checks one value's type, format, decimals and fraction digits.
func checkCell(e *thetaspec.Endpoint, ex *thetaspec.Exceptions, c *thetaspec.Column, v string, quoted *bool) []string {
	if err := thetaspec.CheckCell(c, v, quoted); err != nil {
		return []string{err.Error()}
	}
	d := thetaspec.Decimals(v)
	if c.Type == "number" && c.Decimals >= 0 && d != c.Decimals {
		if _, ok := thetaspec.Excepted(ex.Simulator, e.Path, "decimals:"+c.Name); !ok {
			return []string{"column " + c.Name + ": " + v + " has " + strconv.Itoa(d) + " decimals, the spec's example " + strconv.Itoa(c.Decimals)}
		}
	}
	if c.Format == "date-time" && len(c.FractionDigits) > 0 && !slices.Contains(c.FractionDigits, d) {
		if _, ok := thetaspec.Excepted(ex.Simulator, e.Path, "fraction:"+c.Name); !ok {
			return []string{"column " + c.Name + ": " + v + " has " + strconv.Itoa(d) + " fraction digits, the spec's examples show " + fmtInts(c.FractionDigits)}
		}
	}
	return nil
}

func fmtInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}

// checkObject checks one flat JSON object: its keys are keys (in any
// order: the spec's examples do not keep the CSV order) and each value has
// its column's type.
func checkObject(e *thetaspec.Endpoint, ex *thetaspec.Exceptions, b []byte, keys []string, where string) []string {
	var out []string
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return []string{where + ": " + err.Error()}
	}
	var got []string
	for k := range obj {
		got = append(got, k)
	}
	if !sameSet(got, keys) {
		return []string{where + ": keys " + strings.Join(sorted(got), ",") + ", the spec's example has " + strings.Join(sorted(keys), ",")}
	}
	for _, k := range keys {
		c := column(e, k)
		if c == nil {
			out = append(out, where+": key "+k+" is not a column of the spec")
			continue
		}
		v, isString := obj[k].(string)
		if !isString {
			v = jsonString(obj[k])
		}
		out = append(out, checkCell(e, ex, c, v, &isString)...)
	}
	return out
}

// checkJSON checks a format=json answer's envelope and rows.
func checkJSON(e *thetaspec.Endpoint, ex *thetaspec.Exceptions, body []byte) []string {
	var env struct {
		Response []json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return []string{"not {\"response\":[…]}: " + err.Error()}
	}
	if len(env.Response) == 0 {
		return []string{"an empty response array"}
	}
	var out []string
	for n, el := range env.Response {
		where := "response[" + strconv.Itoa(n) + "]"
		if e.Response.JSONShape != "contract+data" {
			out = append(out, checkObject(e, ex, el, e.Response.JSONDataKeys, where)...)
			continue
		}
		var cd struct {
			Contract json.RawMessage   `json:"contract"`
			Data     []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(el, &cd); err != nil || cd.Contract == nil || len(cd.Data) == 0 {
			return append(out, where+": not {\"contract\":{…},\"data\":[…]} as the spec's example: "+string(head(el, 120)))
		}
		out = append(out, checkObject(e, ex, cd.Contract, e.Response.JSONContractKeys, where+".contract")...)
		for m, row := range cd.Data {
			out = append(out, checkObject(e, ex, row, e.Response.JSONDataKeys, where+".data["+strconv.Itoa(m)+"]")...)
		}
	}
	return out
}

// checkColumnar checks a columnar format=json answer: one array per column
// of the spec, all of one length, each value of its column's type.
func checkColumnar(e *thetaspec.Endpoint, ex *thetaspec.Exceptions, body []byte) []string {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var obj map[string][]any
	if err := d.Decode(&obj); err != nil {
		return []string{"not {\"column\":[…],…}: " + err.Error()}
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	if !sameSet(keys, e.ColumnNames()) {
		return []string{"arrays " + strings.Join(sorted(keys), ",") + ", the spec's columns are " + strings.Join(sorted(e.ColumnNames()), ",")}
	}
	var out []string
	n := len(obj[keys[0]])
	for _, k := range keys {
		if len(obj[k]) != n || n == 0 {
			out = append(out, "array "+k+" has "+strconv.Itoa(len(obj[k]))+" values, "+keys[0]+" "+strconv.Itoa(n))
			continue
		}
		for _, v := range obj[k] {
			sv, isString := v.(string)
			if !isString {
				sv = jsonString(v)
			}
			out = append(out, checkCell(e, ex, column(e, k), sv, &isString)...)
		}
	}
	return out
}

func head(b []byte, n int) []byte { return b[:min(len(b), n)] }

func column(e *thetaspec.Endpoint, name string) *thetaspec.Column {
	for i := range e.Response.Columns {
		if e.Response.Columns[i].Name == name {
			return &e.Response.Columns[i]
		}
	}
	return nil
}

func sameSet(a, b []string) bool { return slices.Equal(sorted(a), sorted(b)) }

func sorted(a []string) []string {
	out := append([]string(nil), a...)
	slices.Sort(out)
	return out
}
