package thetaspec

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite contract.yaml from the spec (make contract-spec-update)")

// TestTableMatchesSpec derives the table from ThetaData's spec, when a copy
// is at hand, and compares it in full with the committed one: a parameter,
// allowed value, default, column or type the spec has and the table lacks
// (or the other way round) fails. With -update it rewrites the table.
func TestTableMatchesSpec(t *testing.T) {
	raw, src, err := FindSpec()
	if errors.Is(err, ErrNoSpec) {
		t.Skipf("the committed contract table was not re-checked against the spec: %v; then run `make contract-spec`", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := Derive(raw, src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if got.Source.Commit == "" { // read from a plain file: keep the recorded commits
			got.Source.Commit, got.Source.CommitDate = want.Source.Commit, want.Source.CommitDate
			got.Source.FileCommit, got.Source.FileCommitDate = want.Source.FileCommit, want.Source.FileCommitDate
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("contract.yaml", b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote contract.yaml from %s@%s (sha256 %s)", src.Repo, src.Commit, src.SHA256)
		return
	}
	t.Logf("checking against %s %s@%s (sha256 %s)", src.Repo, src.Path, src.Commit, src.SHA256)
	if want.Source.SHA256 != got.Source.SHA256 {
		t.Errorf("the spec changed: sha256 %s (%s@%s); the table was derived from %s (%s@%s); the differences follow (none: only text spx does not summarise changed); re-derive with `make contract-spec-update` and review the diff",
			got.Source.SHA256, src.Repo, src.Commit, want.Source.SHA256, want.Source.Repo, want.Source.Commit)
	}
	if len(want.Endpoints) != len(got.Endpoints) {
		t.Fatalf("the table has %d endpoints, the spec gives %d", len(want.Endpoints), len(got.Endpoints))
	}
	for i := range want.Endpoints {
		w, g := &want.Endpoints[i], &got.Endpoints[i]
		if reflect.DeepEqual(w, g) {
			continue
		}
		wb, _ := yaml.Marshal(w)
		gb, _ := yaml.Marshal(g)
		t.Errorf("endpoint %s drifted from the spec:\n%s", w.Path, lineDiff(string(wb), string(gb)))
	}
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- table: "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ spec:  "+l)
		}
	}
	return strings.Join(out, "\n")
}

func TestLoad(t *testing.T) {
	tab, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Endpoints) != len(Covered) {
		t.Fatalf("%d endpoints, Covered lists %d", len(tab.Endpoints), len(Covered))
	}
	for i, c := range Covered {
		e := &tab.Endpoints[i]
		if e.Path != c.Path || len(e.Response.Columns) == 0 || !strings.HasPrefix(e.Spec, "paths.") {
			t.Errorf("endpoint %d: %+v", i, e)
		}
		for _, p := range e.Parameters {
			if p.Spec == "" || p.Type == "" {
				t.Errorf("%s: parameter %s has no type or citation", e.Path, p.Name)
			}
		}
	}
	if tab.Source.Commit == "" || tab.Source.SHA256 == "" {
		t.Errorf("the table does not say which spec it came from: %+v", tab.Source)
	}
	if _, err := LoadExceptions(); err != nil {
		t.Fatal(err)
	}
	if e, vars, ok := tab.Match("/option/list/dates/quote"); !ok || vars["request_type"] != "quote" || e.Path != "/option/list/dates/{request_type}" {
		t.Errorf("Match: %v %v %v", e, vars, ok)
	}
}

func TestCheckParam(t *testing.T) {
	tab, _ := Load()
	q, _ := tab.Endpoint("/option/history/quote")
	g, _ := tab.Endpoint("/option/history/greeks/first_order")
	tests := []struct {
		e     *Endpoint
		param string
		v     string
		ok    bool
	}{
		{q, "expiration", "20240315", true}, {q, "expiration", "2024-03-15", true}, {q, "expiration", "*", true},
		{g, "expiration", "*", false}, {q, "expiration", "03/15/2024", false},
		{q, "strike", "5100", true}, {q, "strike", "*", true}, {q, "strike", "abc", false},
		{q, "right", "call", true}, {q, "right", "C", false}, {q, "interval", "1m", true}, {q, "interval", "60000", false},
		{q, "start_time", "09:30:00.000", true}, {q, "start_time", "9:30", false},
		{q, "format", "ndjson", true}, {q, "format", "xml", false}, {q, "max_dte", "0", true}, {q, "max_dte", "-1", false},
		{q, "symbol", "SPXW", true},
	}
	for _, tt := range tests {
		p, ok := tt.e.Param(tt.param)
		if !ok {
			t.Fatalf("%s has no %s", tt.e.Path, tt.param)
		}
		if err := CheckParam(p, tt.v); (err == nil) != tt.ok {
			t.Errorf("%s %s=%s: %v, want ok %v", tt.e.Path, tt.param, tt.v, err, tt.ok)
		}
	}
}
