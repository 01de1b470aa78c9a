package terminalsim

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The contract table (testdata/thetadata-v3-contract.yaml) is spx's own
// machine-readable summary of ThetaData's v3 OpenAPI file for the endpoints
// spx calls and the list/history endpoints of its five datasets: every
// parameter with its type, format, allowed values and whether it is
// required, and every response's columns in order with their types. Each
// entry cites where in the spec it comes from. The spec itself is not
// committed (it comes from a public mirror that may not be copied in);
// TestContractTableMatchesSpec re-derives the table from the spec when the
// file is at hand and fails on any drift. testdata/thetadata-v3-exceptions.yaml
// lists, with a reason, what the simulator or the client knowingly does
// differently.

const (
	contractTableFile = "testdata/thetadata-v3-contract.yaml"
	exceptionsFile    = "testdata/thetadata-v3-exceptions.yaml"
)

type contractTable struct {
	Comment   string             `yaml:"comment"`
	Source    contractSource     `yaml:"source"`
	Endpoints []contractEndpoint `yaml:"endpoints"`
}

type contractSource struct {
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

type contractEndpoint struct {
	Path string `yaml:"path"` // below the server URL (/v3), as the spec spells it
	Spec string `yaml:"spec"` // e.g. paths./option/history/quote.get
	// SPX says what spx uses the endpoint for ("" when it does not).
	SPX             string           `yaml:"spx,omitempty"`
	Dataset         string           `yaml:"dataset,omitempty"`
	MinSubscription string           `yaml:"min_subscription"`
	P90DurationMs   int              `yaml:"p90_duration_ms"` // x-concurrent-limit-ttl-ms
	Parameters      []contractParam  `yaml:"parameters"`
	Response        contractResponse `yaml:"response"`
}

type contractParam struct {
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
	// saying "`*` for all").
	Wildcard bool   `yaml:"wildcard,omitempty"`
	Spec     string `yaml:"spec"`
}

type contractResponse struct {
	Spec         string           `yaml:"spec"`
	ContentTypes []string         `yaml:"content_types"`
	Columns      []contractColumn `yaml:"columns"`
	// From the spec's examples.
	CSVLineEnding    string   `yaml:"csv_line_ending"`
	JSONShape        string   `yaml:"json_shape"` // "rows" or "contract+data"
	JSONContractKeys []string `yaml:"json_contract_keys,omitempty"`
	JSONDataKeys     []string `yaml:"json_data_keys"`
	NDJSONKeys       []string `yaml:"ndjson_keys"`
}

type contractColumn struct {
	Name   string `yaml:"name"`
	Type   string `yaml:"type"`
	Format string `yaml:"format,omitempty"`
	// Decimals of a number column in the spec's CSV example (-1: none
	// shown); FractionDigits the fraction digits of a date-time column's
	// example values (0: whole seconds, no point).
	Decimals       int   `yaml:"decimals"`
	FractionDigits []int `yaml:"fraction_digits,omitempty"`
}

// exceptions are the known, explained differences.
type exceptions struct {
	Simulator []exception `yaml:"simulator"`
	Client    []exception `yaml:"client"`
}

type exception struct {
	Endpoint string `yaml:"endpoint"` // spec path, or "*" for every endpoint
	What     string `yaml:"what"`     // param:NAME, param:NAME=VALUE, column:NAME, format:F, ...
	Why      string `yaml:"why"`
}

func loadContract(t testing.TB) *contractTable {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(contractTableFile))
	if err != nil {
		t.Fatal(err)
	}
	var ct contractTable
	if err := yaml.Unmarshal(b, &ct); err != nil {
		t.Fatalf("%s: %v", contractTableFile, err)
	}
	if len(ct.Endpoints) == 0 {
		t.Fatalf("%s lists no endpoints", contractTableFile)
	}
	return &ct
}

func loadExceptions(t testing.TB) *exceptions {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(exceptionsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ex exceptions
	if err := yaml.Unmarshal(b, &ex); err != nil {
		t.Fatalf("%s: %v", exceptionsFile, err)
	}
	for _, e := range append(append([]exception(nil), ex.Simulator...), ex.Client...) {
		if e.Why == "" {
			t.Fatalf("%s: exception %s %s has no reason", exceptionsFile, e.Endpoint, e.What)
		}
	}
	return &ex
}

// excepted reports whether list names what for endpoint (or for every
// endpoint).
func excepted(list []exception, endpoint, what string) bool {
	for _, e := range list {
		if (e.Endpoint == endpoint || e.Endpoint == "*") && e.What == what {
			return true
		}
	}
	return false
}

func (ct *contractTable) endpoint(t testing.TB, path string) *contractEndpoint {
	t.Helper()
	for i := range ct.Endpoints {
		if ct.Endpoints[i].Path == path {
			return &ct.Endpoints[i]
		}
	}
	t.Fatalf("%s has no endpoint %s", contractTableFile, path)
	return nil
}

func (e *contractEndpoint) param(name string) *contractParam {
	for i := range e.Parameters {
		if e.Parameters[i].Name == name {
			return &e.Parameters[i]
		}
	}
	return nil
}

func (e *contractEndpoint) columnNames() []string {
	out := make([]string, len(e.Response.Columns))
	for i, c := range e.Response.Columns {
		out[i] = c.Name
	}
	return out
}
