package terminalsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The spec is read from SPX_THETADATA_OPENAPI (a path to
// thetadata-v3-openapi.yml) or, failing that, from a bare git mirror of
// api-evangelist/thetadata at SPX_THETADATA_MIRROR (default the path the
// search tool's fetch puts it at). `make contract-spec` runs this test.
const (
	specEnv        = "SPX_THETADATA_OPENAPI"
	mirrorEnv      = "SPX_THETADATA_MIRROR"
	defaultMirror  = "/work/.mirror/api-evangelist+thetadata/repo"
	specRepo       = "api-evangelist/thetadata"
	specPathInRepo = "openapi/_original/thetadata-v3-openapi.yml"
)

var updateContract = flag.Bool("update-contract", false, "rewrite "+contractTableFile+" from the spec (see TestContractTableMatchesSpec)")

// contractEndpoints are the endpoints the table covers, with what spx uses
// each for.
var contractEndpoints = []struct{ path, spx, dataset string }{
	{"/option/list/expirations", "Expirations: every expiration ever listed for a root", ""},
	{"/option/list/strikes", "", ""},
	{"/option/list/dates/{request_type}", "ExpirationDates (request_type=quote): the trade dates of an expiration", ""},
	{"/option/list/contracts/{request_type}", "Contracts (request_type=quote): the contracts, hence expirations, alive on a trade date", ""},
	{"/option/history/greeks/first_order", "History of dataset greeks", "greeks"},
	{"/option/history/quote", "History of dataset quote", "quote"},
	{"/option/history/ohlc", "History of dataset ohlc", "ohlc"},
	{"/option/history/eod", "History of dataset eod", "eod"},
	{"/option/history/open_interest", "History of dataset open_interest", "open_interest"},
}

// specSource finds the spec: its bytes and where they came from.
func specSource(t *testing.T) ([]byte, contractSource) {
	t.Helper()
	src := contractSource{Repo: specRepo, Path: specPathInRepo}
	if p := os.Getenv(specEnv); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s=%s: %v", specEnv, p, err)
		}
		return b, src
	}
	mirror := os.Getenv(mirrorEnv)
	if mirror == "" {
		mirror = defaultMirror
	}
	if _, err := os.Stat(mirror); err != nil {
		t.Skipf("ThetaData's v3 OpenAPI file is not here, so the committed contract table was not re-checked against it: "+
			"set %s to a copy of %s from github.com/%s (or %s to a bare git clone of that repository; default %s), then run `make contract-spec`",
			specEnv, specPathInRepo, specRepo, mirrorEnv, defaultMirror)
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", mirror}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v in %s: %v", args, mirror, err)
		}
		return strings.TrimSpace(string(out))
	}
	b, err := exec.Command("git", "-C", mirror, "show", "HEAD:"+specPathInRepo).Output()
	if err != nil {
		t.Fatalf("reading %s from the mirror %s: %v", specPathInRepo, mirror, err)
	}
	src.Commit, src.CommitDate = splitLog(git("log", "-1", "--format=%H %cs", "HEAD"))
	src.FileCommit, src.FileCommitDate = splitLog(git("log", "-1", "--format=%H %cs", "HEAD", "--", specPathInRepo))
	return b, src
}

func splitLog(s string) (string, string) {
	a, b, _ := strings.Cut(s, " ")
	return a, b
}

// TestContractTableMatchesSpec derives the contract table from the spec and
// compares it, in full, with the committed one. With -update-contract it
// rewrites the committed table instead.
func TestContractTableMatchesSpec(t *testing.T) {
	raw, src := specSource(t)
	sum := sha256.Sum256(raw)
	src.SHA256 = hex.EncodeToString(sum[:])
	got, err := deriveContract(raw, src)
	if err != nil {
		t.Fatal(err)
	}
	if *updateContract {
		old, _ := os.ReadFile(filepath.FromSlash(contractTableFile))
		var prev contractTable
		_ = yaml.Unmarshal(old, &prev)
		if got.Source.Commit == "" { // read from a plain file: keep the recorded commit
			got.Source.Commit, got.Source.CommitDate = prev.Source.Commit, prev.Source.CommitDate
			got.Source.FileCommit, got.Source.FileCommitDate = prev.Source.FileCommit, prev.Source.FileCommitDate
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.FromSlash(contractTableFile), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s from %s@%s", contractTableFile, src.Repo, src.Commit)
		return
	}
	want := loadContract(t)
	if want.Source.SHA256 != got.Source.SHA256 {
		t.Errorf("the spec changed: sha256 %s (%s@%s), the table was built from %s (%s@%s); the differences follow; re-derive with go test ./pkg/terminalsim -run TestContractTableMatchesSpec -update-contract and review",
			got.Source.SHA256, src.Repo, src.Commit, want.Source.SHA256, want.Source.Repo, want.Source.Commit)
	}
	got.Source, got.Comment = want.Source, want.Comment
	compareTables(t, want, got)

	// The spec's own example bodies must read with spx's client; that check
	// lives in pkg/thetadata (it needs the client), fed from here.
	if dir := os.Getenv("SPX_CONTRACT_EXAMPLES_OUT"); dir != "" {
		if err := writeExamples(raw, dir); err != nil {
			t.Fatal(err)
		}
	}
}

func compareTables(t *testing.T, want, got *contractTable) {
	t.Helper()
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

// deriveContract builds the table from the spec's bytes.
func deriveContract(raw []byte, src contractSource) (*contractTable, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parsing the spec: %w", err)
	}
	info, _ := doc["info"].(map[string]any)
	src.Title, src.Version = str(info["title"]), str(info["version"])
	if servers, _ := doc["servers"].([]any); len(servers) > 0 {
		src.Server = str(servers[0].(map[string]any)["url"])
	}
	ct := &contractTable{
		Comment: "spx's summary of ThetaData's v3 OpenAPI file (see contract_table_test.go); generated by TestContractTableMatchesSpec -update-contract, do not edit by hand",
		Source:  src,
	}
	paths, _ := doc["paths"].(map[string]any)
	comps, _ := doc["components"].(map[string]any)
	params, _ := comps["parameters"].(map[string]any)
	for _, want := range contractEndpoints {
		item, ok := paths[want.path].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the spec has no path %s", want.path)
		}
		op, _ := item["get"].(map[string]any)
		cite := "paths." + want.path + ".get"
		ep := contractEndpoint{Path: want.path, Spec: cite, SPX: want.spx, Dataset: want.dataset,
			MinSubscription: str(item["x-min-subscription"])}
		ep.P90DurationMs, _ = strconv.Atoi(str(item["x-concurrent-limit-ttl-ms"]))
		plist, _ := op["parameters"].([]any)
		for i, p := range plist {
			pm := p.(map[string]any)
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

func paramOf(def map[string]any, cite string) contractParam {
	sch, _ := def["schema"].(map[string]any)
	p := contractParam{Name: str(def["name"]), In: str(def["in"]), Required: def["required"] == true,
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

func responseOf(op map[string]any, cite string) (contractResponse, error) {
	r200, _ := op["responses"].(map[string]any)["200"].(map[string]any)
	content, _ := r200["content"].(map[string]any)
	r := contractResponse{Spec: cite + ".responses.200.content"}
	for ct := range content {
		r.ContentTypes = append(r.ContentTypes, ct)
	}
	slices.Sort(r.ContentTypes)
	csv, _ := content["text/csv"].(map[string]any)
	items, _ := csv["schema"].(map[string]any)["items"].(map[string]any)
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
		c := contractColumn{Name: name, Type: str(pr["type"]), Format: str(pr["format"]), Decimals: -1}
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

// writeExamples writes the spec's example bodies of the covered endpoints
// into dir (one file per endpoint and format) for pkg/thetadata's
// TestSpecExamplesDecode.
func writeExamples(raw []byte, dir string) error {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, e := range contractEndpoints {
		op := paths[e.path].(map[string]any)["get"].(map[string]any)
		content := op["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)
		for ct, ext := range map[string]string{"text/csv": "csv", "application/json": "json", "application/x-ndjson": "ndjson"} {
			c, ok := content[ct].(map[string]any)
			if !ok {
				continue
			}
			name := strings.NewReplacer("/", "_", "{", "", "}", "").Replace(strings.TrimPrefix(e.path, "/")) + "." + ext
			if err := os.WriteFile(filepath.Join(dir, name), []byte(str(c["example"])), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
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

var _ = io.EOF
