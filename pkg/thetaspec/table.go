package thetaspec

import (
	_ "embed"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed contract.yaml
var contractYAML []byte

//go:embed exceptions.yaml
var exceptionsYAML []byte

// Table is the contract: the endpoints and where they were derived from.
type Table struct {
	Comment   string     `yaml:"comment"`
	Source    Source     `yaml:"source"`
	Endpoints []Endpoint `yaml:"endpoints"`
}

// Source says which copy of the spec the table was derived from.
type Source struct {
	Repo           string `yaml:"repo"`
	Path           string `yaml:"path"`
	Commit         string `yaml:"commit"`
	CommitDate     string `yaml:"commit_date"`
	FileCommit     string `yaml:"file_commit"`
	FileCommitDate string `yaml:"file_commit_date"`
	SHA256         string `yaml:"sha256"`
	Title          string `yaml:"title"`
	Version        string `yaml:"version"`
	Server         string `yaml:"server"`
}

// Endpoint is one GET endpoint.
type Endpoint struct {
	Path string `yaml:"path"` // below the server URL (/v3), as the spec spells it
	Spec string `yaml:"spec"` // e.g. paths./option/history/quote.get
	// SPX says what spx uses the endpoint for ("" when it does not).
	SPX             string   `yaml:"spx,omitempty"`
	Dataset         string   `yaml:"dataset,omitempty"`
	MinSubscription string   `yaml:"min_subscription"`
	P90DurationMs   int      `yaml:"p90_duration_ms"` // x-concurrent-limit-ttl-ms
	Parameters      []Param  `yaml:"parameters"`
	Response        Response `yaml:"response"`
}

// Param is one parameter.
type Param struct {
	Name     string   `yaml:"name"`
	In       string   `yaml:"in"`
	Required bool     `yaml:"required"`
	Type     string   `yaml:"type"`
	Items    string   `yaml:"items,omitempty"` // element type of an array
	Format   string   `yaml:"format,omitempty"`
	Enum     []string `yaml:"enum,omitempty"`
	Default  string   `yaml:"default,omitempty"`
	Minimum  *int     `yaml:"minimum,omitempty"`
	// Wildcard: the spec allows `*` (x-date-wildcard, or a description
	// offering "`*` for all").
	Wildcard bool   `yaml:"wildcard,omitempty"`
	Spec     string `yaml:"spec"`
}

// Response is the 200 answer.
type Response struct {
	Spec         string   `yaml:"spec"`
	ContentTypes []string `yaml:"content_types"`
	Columns      []Column `yaml:"columns"`
	// From the spec's examples.
	CSVLineEnding    string   `yaml:"csv_line_ending"`
	JSONShape        string   `yaml:"json_shape"` // "rows" or "contract+data"
	JSONContractKeys []string `yaml:"json_contract_keys,omitempty"`
	JSONDataKeys     []string `yaml:"json_data_keys"`
	NDJSONKeys       []string `yaml:"ndjson_keys"`
}

// Column is one response column.
type Column struct {
	Name   string `yaml:"name"`
	Type   string `yaml:"type"` // string, number, integer
	Format string `yaml:"format,omitempty"`
	// Decimals of a number column in the spec's CSV example (-1: none
	// shown); FractionDigits the fraction digits of a date-time column's
	// example values (0: whole seconds, no point).
	Decimals       int   `yaml:"decimals"`
	FractionDigits []int `yaml:"fraction_digits,omitempty"`
}

// Exceptions are the known, explained differences from the table.
type Exceptions struct {
	Simulator []Exception `yaml:"simulator"`
	Client    []Exception `yaml:"client"`
}

// Exception is one: what differs at which endpoint, and why.
type Exception struct {
	Endpoint string `yaml:"endpoint"` // spec path, or "*" for every endpoint
	What     string `yaml:"what"`     // param:NAME, param:NAME=VALUE, column:NAME, decimals:NAME, ...
	Why      string `yaml:"why"`
}

// Load returns the committed table.
func Load() (*Table, error) {
	var t Table
	if err := yaml.Unmarshal(contractYAML, &t); err != nil {
		return nil, fmt.Errorf("reading the contract table: %w", err)
	}
	if len(t.Endpoints) == 0 {
		return nil, fmt.Errorf("the contract table lists no endpoints")
	}
	return &t, nil
}

// LoadExceptions returns the committed exceptions; each must have a reason.
func LoadExceptions() (*Exceptions, error) {
	var ex Exceptions
	if err := yaml.Unmarshal(exceptionsYAML, &ex); err != nil {
		return nil, fmt.Errorf("reading the contract exceptions: %w", err)
	}
	for _, e := range append(append([]Exception(nil), ex.Simulator...), ex.Client...) {
		if strings.TrimSpace(e.Why) == "" || e.Endpoint == "" || e.What == "" {
			return nil, fmt.Errorf("contract exception %q %q has no reason, endpoint or subject", e.Endpoint, e.What)
		}
	}
	return &ex, nil
}

// Excepted reports whether list names what for endpoint (or for every
// endpoint), and why.
func Excepted(list []Exception, endpoint, what string) (string, bool) {
	for _, e := range list {
		if (e.Endpoint == endpoint || e.Endpoint == "*") && e.What == what {
			return e.Why, true
		}
	}
	return "", false
}

// Endpoint returns the endpoint with the spec path p.
func (t *Table) Endpoint(p string) (*Endpoint, bool) {
	for i := range t.Endpoints {
		if t.Endpoints[i].Path == p {
			return &t.Endpoints[i], true
		}
	}
	return nil, false
}

// Match finds the endpoint a request path (below /v3) belongs to, filling
// path templates such as {request_type}; vars holds the filled values.
func (t *Table) Match(p string) (*Endpoint, map[string]string, bool) {
	for i := range t.Endpoints {
		if vars, ok := matchPath(t.Endpoints[i].Path, p); ok {
			return &t.Endpoints[i], vars, true
		}
	}
	return nil, nil, false
}

func matchPath(tmpl, p string) (map[string]string, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(p, "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	vars := map[string]string{}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
			vars[ts[i][1:len(ts[i])-1]] = ps[i]
			continue
		}
		if ts[i] != ps[i] {
			return nil, false
		}
	}
	return vars, true
}

// Param returns the parameter called name.
func (e *Endpoint) Param(name string) (*Param, bool) {
	for i := range e.Parameters {
		if e.Parameters[i].Name == name {
			return &e.Parameters[i], true
		}
	}
	return nil, false
}

// ColumnNames lists the response's columns in order.
func (e *Endpoint) ColumnNames() []string {
	out := make([]string, len(e.Response.Columns))
	for i, c := range e.Response.Columns {
		out[i] = c.Name
	}
	return out
}

// Fill replaces the path templates of the endpoint with vars.
func (e *Endpoint) Fill(vars map[string]string) string {
	p := e.Path
	for k, v := range vars {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return p
}
