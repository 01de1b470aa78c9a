package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/spx"
)

// convertInput writes n greeks rows (two contracts) in the staged NDJSON form.
func convertInput(t *testing.T, n int) []byte {
	t.Helper()
	var buf []byte
	exp := spx.NewDate(2024, 3, 15)
	day := spx.NewDate(2024, 3, 11)
	num := func(s string) []byte { return []byte(s) }
	for i := range n {
		right := byte('C')
		if i >= n/2 {
			right = 'P'
		}
		r := spx.Row{
			Contract: spx.Contract{Root: "SPXW", Expiration: exp, Strike: 5100, Right: right},
			Date:     day,
			Values: [][]byte{num(strconv.Itoa(34200000 + 60000*(i%(n/2)))), num("1.05"), num("1.15"), num("0.5"), num("-0.04"),
				num("0.07"), num("0.7"), num("-1.9"), num("1.5"), num("0.18"), num("0"), num(strconv.Itoa(34200000 + 60000*(i%(n/2)))), num("5101.25")},
		}
		buf = spx.AppendNDJSON(buf, spx.Greeks, &r)
	}
	return buf
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConvertCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson.zst")
	var z bytes.Buffer
	zw, _ := zstd.NewWriter(&z)
	zw.Write(convertInput(t, 200))
	zw.Close()
	if err := os.WriteFile(in, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.parquet")

	code, stdout, stderr := runCLI(t, "convert", "--dataset", "greeks", in, out)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "rows      200") || !strings.Contains(stdout, "contracts 2") {
		t.Fatalf("output does not report 200 rows in 2 contracts:\n%s", stdout)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := archive.VerifyFile(context.Background(), out, 200, ""); err != nil {
		t.Fatalf("the written file does not verify: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}

	// A bad line: exit 1 naming the line, nothing left at OUT.
	bad := filepath.Join(dir, "bad.ndjson")
	lines := bytes.SplitAfter(convertInput(t, 10), []byte("\n"))
	lines[3] = bytes.Replace(lines[3], []byte(`"bid":1.05`), []byte(`"bid":NaN`), 1)
	os.WriteFile(bad, bytes.Join(lines, nil), 0o600)
	badOut := filepath.Join(dir, "bad.parquet")
	code, _, stderr = runCLI(t, "convert", bad, badOut)
	if code != 1 || !strings.Contains(stderr, "line 4") {
		t.Fatalf("bad line: exit %d, stderr %q; want exit 1 naming line 4", code, stderr)
	}
	if matches, _ := filepath.Glob(badOut + "*"); len(matches) != 0 {
		t.Fatalf("a failed conversion left %v behind", matches)
	}

	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"convert", in},
		{"convert", "--dataset", "trades", in, out},
		{"convert", filepath.Join(dir, "missing.ndjson"), out},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d (stderr %q), want 2", args, code, stderr)
		}
	}
}
