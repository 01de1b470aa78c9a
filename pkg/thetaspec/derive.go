package thetaspec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Covered are the endpoints the table covers, in order, with what spx
// uses each for.
var Covered = []struct{ Path, SPX, Dataset string }{
	{"/option/list/symbols", "", ""},
	{"/option/list/expirations", "Expirations: every expiration ever listed for a root", ""},
	{"/option/list/strikes", "", ""},
	{"/option/list/dates/{request_type}", "ExpirationDates (request_type=quote): the trade dates of an expiration", ""},
	{"/option/list/contracts/{request_type}", "Contracts (request_type=quote): the contracts, hence expirations, alive on a trade date", ""},
	{"/option/history/greeks/first_order", "History of dataset greeks", "greeks"},
	{"/option/history/quote", "History of dataset quote", "quote"},
	{"/option/history/ohlc", "History of dataset ohlc", "ohlc"},
	{"/option/history/eod", "History of dataset eod", "eod"},
	{"/option/history/open_interest", "History of dataset open_interest", "open_interest"},
	{"/option/at_time/quote", "", ""},
	{"/option/at_time/trade", "", ""},
}

// Derive builds the table from the spec's bytes; src says where they came
// from.
func Derive(raw []byte, src Source) (*Table, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parsing the spec: %w", err)
	}
	info, _ := doc["info"].(map[string]any)
	src.Title, src.Version = str(info["title"]), str(info["version"])
	if servers, _ := doc["servers"].([]any); len(servers) > 0 {
		s0, _ := servers[0].(map[string]any)
		src.Server = str(s0["url"])
	}
	ct := &Table{
		Comment: "spx's summary of ThetaData's v3 OpenAPI file (see pkg/thetaspec); written by `make contract-spec-update`, do not edit by hand",
		Source:  src,
	}
	paths, _ := doc["paths"].(map[string]any)
	comps, _ := doc["components"].(map[string]any)
	params, _ := comps["parameters"].(map[string]any)
	for _, want := range Covered {
		item, ok := paths[want.Path].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the spec has no path %s", want.Path)
		}
		op, _ := item["get"].(map[string]any)
		cite := "paths." + want.Path + ".get"
		ep := Endpoint{Path: want.Path, Spec: cite, SPX: want.SPX, Dataset: want.Dataset,
			MinSubscription: str(item["x-min-subscription"])}
		ep.P90DurationMs, _ = strconv.Atoi(str(item["x-concurrent-limit-ttl-ms"]))
		plist, _ := op["parameters"].([]any)
		for i, p := range plist {
			pm, _ := p.(map[string]any)
			ref := str(pm["$ref"])
			name := strings.TrimPrefix(ref, "#/components/parameters/")
			def, ok := params[name].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.parameters[%d]: unresolved %s", cite, i, ref)
			}
			ep.Parameters = append(ep.Parameters, paramOf(def, fmt.Sprintf("%s.parameters[%d] → components.parameters.%s", cite, i, name)))
		}
		resp, err := responseOf(op, cite)
		if err != nil {
			return nil, err
		}
		ep.Response = resp
		ct.Endpoints = append(ct.Endpoints, ep)
	}
	return ct, nil
}

func paramOf(def map[string]any, cite string) Param {
	sch, _ := def["schema"].(map[string]any)
	p := Param{Name: str(def["name"]), In: str(def["in"]), Required: def["required"] == true,
		Type: str(sch["type"]), Format: str(sch["format"]), Default: str(sch["default"]), Spec: cite}
	if it, ok := sch["items"].(map[string]any); ok {
		p.Items = str(it["type"])
	}
	for _, e := range asList(sch["enum"]) {
		p.Enum = append(p.Enum, str(e))
	}
	if m, ok := sch["minimum"].(int); ok {
		p.Minimum = &m
	}
	desc := str(def["description"])
	p.Wildcard = def["x-date-wildcard"] == true || strings.Contains(desc, "`*` for all") || strings.Contains(desc, "'*' for all")
	return p
}

func responseOf(op map[string]any, cite string) (Response, error) {
	resps, _ := op["responses"].(map[string]any)
	r200, _ := resps["200"].(map[string]any)
	content, _ := r200["content"].(map[string]any)
	r := Response{Spec: cite + ".responses.200.content"}
	for ct := range content {
		r.ContentTypes = append(r.ContentTypes, ct)
	}
	slices.Sort(r.ContentTypes)
	csv, _ := content["text/csv"].(map[string]any)
	sch, _ := csv["schema"].(map[string]any)
	items, _ := sch["items"].(map[string]any)
	props, _ := items["properties"].(map[string]any)
	// YAML maps lose their order in map[string]any: take the order from
	// the CSV example's header, which must name exactly these columns.
	ex := str(csv["example"])
	lines := strings.Split(ex, "\n")
	if len(lines) < 2 {
		return r, fmt.Errorf("%s: the CSV example has no rows", r.Spec)
	}
	if strings.HasSuffix(lines[0], "\r") {
		r.CSVLineEnding = `\r\n`
	} else {
		r.CSVLineEnding = `\n`
	}
	header := strings.Split(strings.TrimSuffix(lines[0], "\r"), ",")
	if len(header) != len(props) {
		return r, fmt.Errorf("%s: the CSV example header %v does not name the %d schema properties", r.Spec, header, len(props))
	}
	var rows [][]string
	for _, l := range lines[1:] {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			rows = append(rows, strings.Split(l, ","))
		}
	}
	for i, name := range header {
		pr, ok := props[name].(map[string]any)
		if !ok {
			return r, fmt.Errorf("%s: the CSV example column %s is not a schema property", r.Spec, name)
		}
		c := Column{Name: name, Type: str(pr["type"]), Format: str(pr["format"]), Decimals: -1}
		for _, row := range rows {
			if i >= len(row) {
				continue
			}
			v := row[i]
			switch {
			case c.Type == "number":
				d := 0
				if _, f, ok := strings.Cut(v, "."); ok {
					d = len(f)
				}
				c.Decimals = max(c.Decimals, d)
			case c.Format == "date-time":
				d := 0
				if _, f, ok := strings.Cut(v, "."); ok {
					d = len(f)
				}
				if !slices.Contains(c.FractionDigits, d) {
					c.FractionDigits = append(c.FractionDigits, d)
				}
			}
		}
		slices.Sort(c.FractionDigits)
		r.Columns = append(r.Columns, c)
	}
	if j, ok := content["application/json"].(map[string]any); ok {
		shape, ck, dk, err := jsonShape(str(j["example"]))
		if err != nil {
			return r, fmt.Errorf("%s: the JSON example: %w", r.Spec, err)
		}
		r.JSONShape, r.JSONContractKeys, r.JSONDataKeys = shape, ck, dk
	}
	if n, ok := content["application/x-ndjson"].(map[string]any); ok {
		first, _, _ := strings.Cut(strings.TrimSpace(str(n["example"])), "\n")
		keys, err := objectKeys([]byte(first))
		if err != nil {
			return r, fmt.Errorf("%s: the NDJSON example: %w", r.Spec, err)
		}
		r.NDJSONKeys = keys
	}
	return r, nil
}

// jsonShape reads the JSON example: {"response":[row, …]} ("rows") or
// {"response":[{"contract":{…},"data":[row, …]}, …]} ("contract+data").
func jsonShape(ex string) (shape string, contractKeys, dataKeys []string, err error) {
	var doc struct {
		Response []json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal([]byte(ex), &doc); err != nil {
		return "", nil, nil, err
	}
	if len(doc.Response) == 0 {
		return "", nil, nil, fmt.Errorf("no response array")
	}
	var nested struct {
		Contract json.RawMessage   `json:"contract"`
		Data     []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(doc.Response[0], &nested); err == nil && nested.Contract != nil && len(nested.Data) > 0 {
		if contractKeys, err = objectKeys(nested.Contract); err != nil {
			return "", nil, nil, err
		}
		dataKeys, err = objectKeys(nested.Data[0])
		return "contract+data", contractKeys, dataKeys, err
	}
	dataKeys, err = objectKeys(doc.Response[0])
	return "rows", nil, dataKeys, err
}

// objectKeys lists a JSON object's keys in order.
func objectKeys(b []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %.80s", b)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
