package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/klauspost/compress/s2"

	"github.com/spx-archive/spx/pkg/spx"
)

// checkRows asserts that the file at path holds exactly want, in order.
func checkRows(t *testing.T, path string, want []genRow) {
	t.Helper()
	tbl := readBack(t, path)
	defer tbl.Release()
	if tbl.NumRows() != int64(len(want)) {
		t.Fatalf("file has %d rows, want %d", tbl.NumRows(), len(want))
	}
	ts := tbl.Schema().Field(5).Type.(*arrow.TimestampType)
	if ts.Unit != arrow.Millisecond || ts.TimeZone != "America/New_York" {
		t.Fatalf("timestamp type %s, want timestamp[ms, tz=America/New_York]", ts)
	}
	root := column(t, tbl, "root").(*array.String)
	exp := column(t, tbl, "expiration").(*array.Date32)
	strike := column(t, tbl, "strike").(*array.Float64)
	right := column(t, tbl, "right").(*array.String)
	date := column(t, tbl, "date").(*array.Date32)
	stamp := column(t, tbl, "timestamp").(*array.Timestamp)
	ms := column(t, tbl, "ms_of_day").(*array.Int32)
	ms2 := column(t, tbl, "ms_of_day2").(*array.Int32)
	var floats []*array.Float64
	for _, c := range spx.Greeks.Columns() {
		if c.Type == spx.Float64 {
			floats = append(floats, column(t, tbl, c.Name).(*array.Float64))
		}
	}
	for i, g := range want {
		y, m, d := g.date.YMD()
		wantTs := time.Date(y, m, d, 0, 0, 0, 0, spx.NewYork).Add(time.Duration(g.ms) * time.Millisecond).UnixMilli()
		if root.Value(i) != g.root || spx.Date(exp.Value(i)) != g.exp || strike.Value(i) != g.strike ||
			right.Value(i) != string(g.right) || spx.Date(date.Value(i)) != g.date || ms.Value(i) != g.ms ||
			ms2.Value(i) != g.ms2 || int64(stamp.Value(i)) != wantTs {
			t.Fatalf("row %d: got %s %s %v %s %s ms=%d ts=%d, want %+v ts=%d", i, root.Value(i), spx.Date(exp.Value(i)),
				strike.Value(i), right.Value(i), spx.Date(date.Value(i)), ms.Value(i), stamp.Value(i), g, wantTs)
		}
		for j, f := range floats {
			if f.Value(j*0+i) != g.vals[j] {
				t.Fatalf("row %d column %d: got %v, want %v", i, j, f.Value(i), g.vals[j])
			}
		}
	}
}

func convertFile(t *testing.T, in []byte, o Options) (string, FileInfo) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sub", "exp=2024-03-15.parquet")
	o.noSync = !strings.HasPrefix(t.Name(), "TestRoundTrip/") // fsync is slow on a busy CI disk
	fi, err := WriteFile(context.Background(), spx.Greeks, bytes.NewReader(in), out, o)
	if err != nil {
		t.Fatal(err)
	}
	return out, fi
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		date spx.Date
		utc  string // 09:30 New York as UTC
	}{
		{"winter", spx.NewDate(2024, 3, 8), "14:30"},
		{"first day of DST", spx.NewDate(2024, 3, 11), "13:30"},
		{"summer", spx.NewDate(2024, 7, 3), "13:30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := genGreeks("SPXW", tc.date, tc.date.AddDays(4), 9, 391, 2)
			path, fi := convertFile(t, ndjson(rows), Options{})
			if fi.Rows != int64(len(rows)) || fi.Contracts != 18 || fi.Bytes == 0 || len(fi.SHA256) != 64 {
				t.Fatalf("file info %+v", fi)
			}
			checkRows(t, path, rows)
			tbl := readBack(t, path)
			defer tbl.Release()
			first := column(t, tbl, "timestamp").(*array.Timestamp).Value(0)
			if got := time.UnixMilli(int64(first)).UTC().Format("15:04"); got != tc.utc {
				t.Fatalf("09:30 New York stored as %s UTC, want %s", got, tc.utc)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("file mode %v, %v; want 0600", st.Mode(), err)
			}
		})
	}
}

// TestRoundTripGeneralForm feeds the same rows with keys in another order,
// whitespace and an escaped root: the general parser must agree with the
// fast path exactly.
func TestRoundTripGeneralForm(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3), 3, 20, 3)
	var in []byte
	for i, line := range bytes.SplitAfter(ndjson(rows), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if i%2 == 0 {
			// move "root" to the end, add spaces, escape a letter
			s := string(line)
			s = strings.Replace(s, `{"root":"SPXW",`, `{ `, 1)
			s = strings.Replace(s, "}\n", `, "root" : "SP\u0058W" }`+"\r\n", 1)
			line = []byte(s)
		}
		in = append(in, line...)
		if i == 5 {
			in = append(in, "   \n"...) // blank line
		}
	}
	path, _ := convertFile(t, in, Options{})
	checkRows(t, path, rows)
}

func shuffled(rows []genRow, mode string, seed uint64) []genRow {
	r := rand.New(rand.NewPCG(seed, 1))
	out := slices.Clone(rows)
	switch mode {
	case "blocks":
		var blocks [][]genRow
		for i := 0; i < len(out); {
			j := i
			for j < len(out) && out[j].strike == out[i].strike && out[j].right == out[i].right {
				j++
			}
			blocks = append(blocks, out[i:j])
			i = j
		}
		r.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
		return slices.Concat(blocks...)
	case "rows":
		r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	case "reversed":
		slices.Reverse(out)
	case "split blocks":
		// each contract arrives in two non-overlapping halves, second half first
		var a, b []genRow
		for i, g := range out {
			if g.ms >= 34_200_000+200*60_000 {
				a = append(a, out[i])
			} else {
				b = append(b, out[i])
			}
		}
		return append(a, b...)
	}
	return out
}

func TestSortedOutput(t *testing.T) {
	defer func(v int64) { minSplit = v }(minSplit)
	minSplit = 1 // plan in parts even this small input
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 12, 391, 4)
	// small batches, pages and row groups so chunks, spans, pages and
	// row groups all split
	o := Options{BatchRows: 700, RowGroupRows: 3000, TempDir: t.TempDir(), dataPageSize: 8 << 10, noSync: true}
	refPath, ref := convertFile(t, ndjson(rows), o)
	checkRows(t, refPath, rows)
	refBytes, _ := os.ReadFile(refPath)
	for _, mode := range []string{"sorted", "blocks", "split blocks", "rows", "reversed"} {
		for _, via := range []string{"bytes.Reader", "spill", "file", "spill to buffer"} {
			if (via == "file" || via == "spill to buffer") && mode != "blocks" {
				continue // how the input is read is independent of its order
			}
			t.Run(mode+"/"+via, func(t *testing.T) {
				in := ndjson(shuffled(rows, mode, 9))
				out := filepath.Join(t.TempDir(), "out.parquet")
				var fi FileInfo
				var err error
				switch via {
				case "bytes.Reader":
					fi, err = WriteFile(context.Background(), spx.Greeks, bytes.NewReader(in), out, o)
				case "spill":
					fi, err = WriteFile(context.Background(), spx.Greeks, onlyReader{bytes.NewReader(in)}, out, o)
				case "spill to buffer":
					// neither input nor output can be rewound
					var buf bytes.Buffer
					var res Result
					res, err = Convert(context.Background(), spx.Greeks, onlyReader{bytes.NewReader(in)}, &buf, o)
					if err == nil && res.Rows != int64(len(rows)) {
						t.Fatalf("rows %d", res.Rows)
					}
					sum := sha256.Sum256(buf.Bytes())
					fi.SHA256 = hex.EncodeToString(sum[:])
					if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
						t.Fatal(err)
					}
				case "file":
					f, ferr := OpenNDJSON(writeTemp(t, in))
					if ferr != nil {
						t.Fatal(ferr)
					}
					defer f.Close()
					fi, err = WriteFile(context.Background(), spx.Greeks, f, out, o)
				}
				if err != nil {
					t.Fatal(err)
				}
				// Same rows in the same order: byte-identical to the file from sorted input.
				if fi.SHA256 != ref.SHA256 {
					checkRows(t, out, rows)
					got, _ := os.ReadFile(out)
					t.Fatalf("sha %s, want %s (sizes %d vs %d)", fi.SHA256, ref.SHA256, len(got), len(refBytes))
				}
			})
		}
	}
	if left, _ := filepath.Glob(filepath.Join(o.TempDir, "*")); len(left) != 0 {
		t.Fatalf("spill files left behind: %v", left)
	}
}

func TestDeterministic(t *testing.T) {
	in := ndjson(genGreeks("SPX", spx.NewDate(2023, 11, 16), spx.NewDate(2023, 11, 17), 30, 391, 5))
	o := Options{Metadata: map[string]string{"source": "http://127.0.0.1:25503/v3/option/history/greeks/first_order"}}
	p1, fi1 := convertFile(t, in, o)
	o.Parallelism = 1
	p2, fi2 := convertFile(t, in, o)
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if fi1.SHA256 != fi2.SHA256 || !bytes.Equal(b1, b2) {
		t.Fatal("two conversions of the same input differ")
	}
	rdr, err := file.NewParquetReader(bytes.NewReader(b1))
	if err != nil {
		t.Fatal(err)
	}
	kv := rdr.MetaData().KeyValueMetadata()
	for k, want := range map[string]string{MetaSchemaVersion: "1", MetaDataset: "greeks", "source": o.Metadata["source"]} {
		if v := kv.FindValue(k); v == nil || *v != want {
			t.Errorf("metadata %s = %v, want %q", k, v, want)
		}
	}
	if v := kv.FindValue(MetaVersion); v == nil || *v == "" {
		t.Errorf("metadata %s missing", MetaVersion)
	}
}

func TestBadInput(t *testing.T) {
	good := ndjson(genGreeks("SPXW", spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3), 2, 3, 6))
	lines := strings.SplitAfter(string(good), "\n")
	base := lines[2] // a canonical line to mutate
	for _, tc := range []struct {
		name, line, reason string
	}{
		{"array", "[1,2,3]\n", `field "root": want a string`},
		{"text", "hello\n", "not a JSON object or array"},
		{"truncated", base[:40] + "\n", "not a JSON object"},
		{"trailing", strings.TrimSuffix(base, "\n") + "x\n", "trailing data"},
		{"NaN", strings.Replace(base, `"delta":`, `"delta":NaN,"x":`, 1), `field "delta"`},
		{"Infinity", strings.Replace(base, `"bid":`, `"bid":Infinity,"y":`, 1), `field "bid"`},
		{"huge", strings.Replace(base, `"bid":`, `"bid":1e999,"y":`, 1), `field "bid"`},
		{"renamed field", strings.Replace(base, `"delta":`, `"dummy_never":`, 1), `unknown field "dummy_never"`},
		{"missing required", dropField(base, "vega"), `missing field "vega"`},
		{"unknown", strings.Replace(base, `{"root"`, `{"zzz":1,"root"`, 1), `unknown field "zzz"`},
		{"string for number", strings.Replace(base, `"bid":`, `"bid":"1.5","q":`, 1), `field "bid"`},
		{"bool for number", strings.Replace(base, `"ask":`, `"ask":true,"q":`, 1), `field "ask"`},
		{"null required", strings.Replace(base, `"theta":`, `"theta":null,"q":`, 1), `null`},
		{"right", strings.Replace(base, `"right":"C"`, `"right":"X"`, 1), `"right"`},
		{"right CALL", strings.Replace(base, `"right":"C"`, `"right":"CALL"`, 1), `"right"`},
		{"int32 overflow", setField(base, "ms_of_day", "3000000000"), "overflows"},
		{"fraction in int", setField(base, "ms_of_day", "342.5"), "not an integer"},
		{"bad date", strings.Replace(base, `"date":20240102`, `"date":20240230`, 1), "not a date"},
		{"duplicate", strings.Replace(base, `"bid":`, `"ask":1,"bid":`, 1), "duplicate field"},
		{"leading plus", strings.Replace(base, `"bid":`, `"bid":+`, 1), `field "bid"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.line == base {
				t.Fatal("mutation did not apply")
			}
			in := strings.Join(lines[:2], "") + tc.line + strings.Join(lines[3:], "")
			dir := t.TempDir()
			out := filepath.Join(dir, "exp.parquet")
			_, err := WriteFile(context.Background(), spx.Greeks, strings.NewReader(in), out, Options{})
			var le *LineError
			if !errors.As(err, &le) || le.Line != 3 {
				t.Fatalf("error %v, want a LineError for line 3", err)
			}
			if spx.ClassOf(err) != spx.ClassPermanent {
				t.Fatalf("class %s, want permanent", spx.ClassOf(err))
			}
			if !strings.Contains(le.Reason, tc.reason) || !strings.Contains(err.Error(), "line 3") {
				t.Fatalf("error %q, want reason containing %q", err, tc.reason)
			}
			if len(le.Text) > maxQuote {
				t.Fatalf("quoted %d bytes", len(le.Text))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("left behind: %v", ents)
			}
		})
	}
}

// setField replaces the value of a field in a canonical line.
func setField(line, name, value string) string {
	i := strings.Index(line, `"`+name+`":`) + len(name) + 3
	j := strings.IndexAny(line[i:], ",}") + i
	return line[:i] + value + line[j:]
}

// dropField removes `,"name":value` from a canonical line.
func dropField(line, name string) string {
	i := strings.Index(line, `,"`+name+`":`)
	j := strings.IndexAny(line[i+1:], ",}") + i + 1
	return line[:i] + line[j:]
}

func TestNoRows(t *testing.T) {
	for _, in := range []string{"", "\n", "  \n\n"} {
		dir := t.TempDir()
		_, err := WriteFile(context.Background(), spx.Greeks, strings.NewReader(in), filepath.Join(dir, "x.parquet"), Options{})
		if !errors.Is(err, ErrNoRows) || spx.ClassOf(err) != spx.ClassPermanent {
			t.Fatalf("input %q: error %v, want ErrNoRows", in, err)
		}
		_, err = WriteFile(context.Background(), spx.Greeks, onlyReader{bytes.NewReader([]byte(in))}, filepath.Join(dir, "x.parquet"), Options{TempDir: dir})
		if !errors.Is(err, ErrNoRows) {
			t.Fatalf("streamed input %q: error %v, want ErrNoRows", in, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("left behind: %v", ents)
		}
	}
}

// cancelAt cancels a context after n positional reads.
type cancelAt struct {
	*bytes.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAt) ReadAt(p []byte, off int64) (int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.Reader.ReadAt(p, off)
}

// failAfter returns an error after n bytes (a staging stream cut short).
type failAfter struct {
	r *bytes.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("stream cut")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestWriteFileLeavesNothingOnFailure(t *testing.T) {
	in := ndjson(genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 40, 391, 7))
	o := Options{BatchRows: 2000}
	for _, tc := range []struct {
		name  string
		input func(context.CancelFunc) any
	}{
		{"cancelled during planning", func(c context.CancelFunc) any { return &cancelAt{bytes.NewReader(in), 1, c} }},
		{"cancelled while writing", func(c context.CancelFunc) any { return &cancelAt{bytes.NewReader(in), 3, c} }},
		{"cancelled before start", func(c context.CancelFunc) any { c(); return bytes.NewReader(in) }},
		{"input stream cut", func(context.CancelFunc) any { return &failAfter{bytes.NewReader(in), len(in) / 2} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := t.TempDir()
			tmp := t.TempDir()
			o.TempDir = tmp
			_, err := WriteFile(ctx, spx.Greeks, tc.input(cancel).(interface{ Read([]byte) (int, error) }), filepath.Join(dir, "x.parquet"), o)
			if err == nil {
				t.Fatal("no error")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("left behind: %v", ents)
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Fatalf("spill left behind: %v", ents)
			}
		})
	}
	t.Run("output path is a directory", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "x.parquet")
		if err := os.Mkdir(out, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteFile(context.Background(), spx.Greeks, bytes.NewReader(in), out, o); err == nil {
			t.Fatal("rename over a directory succeeded")
		}
		if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
			t.Fatalf(".tmp left behind: %v", err)
		}
	})
}

func TestCheckedAllocator(t *testing.T) {
	in := ndjson(genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 20, 391, 8))
	for _, mode := range []string{"sorted", "rows"} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		data := in
		if mode == "rows" {
			data = ndjson(shuffled(genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 20, 391, 8), "rows", 3))
		}
		// A file output takes the streaming path first (and for unsorted
		// input rewinds and plans); a buffer takes the planned path.
		out, err := os.Create(filepath.Join(t.TempDir(), "out.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		res, err := Convert(context.Background(), spx.Greeks, bytes.NewReader(data), out, Options{Allocator: mem, BatchRows: 3000, RowGroupRows: 5000})
		if err != nil || res.Rows != 20*2*391 {
			t.Fatalf("%v, %+v", err, res)
		}
		mem.AssertSize(t, 0)
		// A bad line found while decoding (not planning) must release too.
		bad := bytes.Replace(data, []byte(`"bid":`), []byte(`"bid":1,"bid":`), 1)
		_, err = Convert(context.Background(), spx.Greeks, bytes.NewReader(bad), out, Options{Allocator: mem})
		if err == nil {
			t.Fatal("no error for a duplicate field")
		}
		mem.AssertSize(t, 0)
		var buf bytes.Buffer
		if _, err := Convert(context.Background(), spx.Greeks, bytes.NewReader(data), &buf, Options{Allocator: mem}); err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
	}
}

func TestOptionalColumns(t *testing.T) {
	in := `{"root":"SPX","expiration":20240315,"strike":5000,"right":"P","date":20240314,"ms_of_day":34200000,"open":1.5,"high":2,"low":1,"close":1.75,"volume":10,"count":3,"vwap":1.6}
{"root":"SPX","expiration":20240315,"strike":5000,"right":"P","date":20240314,"ms_of_day":34260000,"open":1.5,"high":2,"low":1,"close":1.75,"volume":0,"count":0,"vwap":null}
{"root":"SPX","expiration":20240315,"strike":5000,"right":"P","date":20240314,"ms_of_day":34320000,"open":1.5,"high":2,"low":1,"close":1.75,"volume":9007199254740993,"count":0}
{"root":"SPX","expiration":20240315,"strike":5000,"right":"P","date":20240314,"ms_of_day":34380000,"open":1.5,"high":2,"low":1,"close":1.75,"volume":1,"count":1,"vwap":null }
`
	out := filepath.Join(t.TempDir(), "o.parquet")
	if _, err := WriteFile(context.Background(), spx.OHLC, strings.NewReader(in), out, Options{}); err != nil {
		t.Fatal(err)
	}
	tbl := readBack(t, out)
	defer tbl.Release()
	vwap := column(t, tbl, "vwap").(*array.Float64)
	// the last line leaves the fast path after its null: counted once
	if vwap.IsNull(0) || vwap.Value(0) != 1.6 || !vwap.IsNull(1) || !vwap.IsNull(2) || !vwap.IsNull(3) || vwap.NullN() != 3 {
		t.Fatalf("vwap %v", vwap)
	}
	if v := column(t, tbl, "volume").(*array.Int64).Value(2); v != 9007199254740993 {
		t.Fatalf("volume %d", v)
	}
	if !tbl.Schema().Field(tbl.Schema().FieldIndices("vwap")[0]).Nullable {
		t.Fatal("vwap not nullable")
	}
}

// TestOpenNDJSONCompressed: a .zst dump and a staged object as stored
// (.s2, array lines) convert to the same rows.
func TestOpenNDJSONCompressed(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 5, 391, 10)
	var s2buf bytes.Buffer
	sw := s2.NewWriter(&s2buf)
	sw.Write(staged(rows))
	sw.Close()
	for name, data := range map[string][]byte{"x.ndjson.zst": zstdBytes(t, ndjson(rows)), "x.ndjson.s2": s2buf.Bytes()} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := OpenNDJSON(p)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "x.parquet")
		if _, err := WriteFile(context.Background(), spx.Greeks, r, out, Options{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r.Close()
		checkRows(t, out, rows)
	}
}

// TestStagedArrayForm: the fetchers' array lines, alone, shuffled (the
// planning path) or mixed line by line with objects, give the same bytes as
// the object form of the same rows.
func TestStagedArrayForm(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 12, 391, 6)
	o := Options{BatchRows: 1000, dataPageSize: 16 << 10}
	_, ref := convertFile(t, ndjson(rows), o)
	arr := staged(rows)
	if len(arr) >= len(ndjson(rows))/2 {
		t.Fatalf("array form is %d bytes against %d for objects: expected well under half", len(arr), len(ndjson(rows)))
	}
	var mixed []byte
	objLines := bytes.SplitAfter(ndjson(rows), []byte("\n"))
	for i, line := range bytes.SplitAfter(arr, []byte("\n")) {
		if i%3 == 1 {
			line = objLines[i]
		}
		if i%5 == 2 && len(line) > 0 { // the general parser: spaces inside the array
			line = bytes.Replace(bytes.Replace(line, []byte(","), []byte(" , "), -1), []byte("["), []byte("[ "), 1)
		}
		mixed = append(mixed, line...)
	}
	for name, in := range map[string][]byte{"arrays": arr, "shuffled": staged(shuffled(rows, "rows", 4)), "mixed": mixed} {
		path, got := convertFile(t, in, o)
		if got.SHA256 != ref.SHA256 {
			t.Errorf("%s: file %s differs from the object form's %s", name, got.SHA256, ref.SHA256)
		}
		if name == "mixed" {
			checkRows(t, path, rows)
		}
	}
}

func TestBadArrayLine(t *testing.T) {
	good := staged(genGreeks("SPXW", spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3), 2, 3, 6))
	lines := strings.SplitAfter(string(good), "\n")
	base := lines[2]
	cut := strings.LastIndex(base, ",")
	for _, tc := range []struct{ name, line, reason string }{
		{"short", base[:cut] + "]\n", "the array has 17 values, want 18"},
		{"long", strings.TrimSuffix(base, "]\n") + ",1]\n", "more than 18 values"},
		{"unclosed", strings.TrimSuffix(base, "]\n") + "\n", "expected ']'"},
		{"null required", strings.Replace(base, `",20240102,`, `",null,`, 1), `field "date": want a finite JSON number, got null`},
		{"right", strings.Replace(base, `"C"`, `"X"`, 1), `"right"`},
		{"NaN", base[:cut] + ",NaN]\n", `field "underlying_price"`},
		{"trailing", strings.TrimSuffix(base, "\n") + "x\n", "trailing data after the JSON array"},
		{"control byte in root", strings.Replace(base, `"SPXW"`, "\"SP\x01W\"", 1), `field "root": want a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.line == base {
				t.Fatal("mutation did not apply")
			}
			in := strings.Join(lines[:2], "") + tc.line + strings.Join(lines[3:], "")
			_, err := WriteFile(context.Background(), spx.Greeks, strings.NewReader(in), filepath.Join(t.TempDir(), "x.parquet"), Options{})
			var le *LineError
			if !errors.As(err, &le) || le.Line != 3 || !strings.Contains(le.Reason, tc.reason) {
				t.Fatalf("error %v, want line 3 with reason containing %q", err, tc.reason)
			}
		})
	}
}

// TestSameBytesWhateverTheInputOrder uses small data pages, several per
// column chunk, whose boundaries would follow decode chunk sizes if
// batches were not re-cut to BatchRows.
func TestSameBytesWhateverTheInputOrder(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 24, 391, 12)
	o := Options{BatchRows: 1000, dataPageSize: 16 << 10}
	_, ref := convertFile(t, ndjson(rows), o)
	_, got := convertFile(t, ndjson(shuffled(rows, "blocks", 5)), o)
	if got.SHA256 != ref.SHA256 {
		t.Fatalf("contract order changed the file: %s vs %s", got.SHA256, ref.SHA256)
	}
}

func TestLineNumbersAcrossPlanningParts(t *testing.T) {
	defer func(v int64) { minSplit = v }(minSplit)
	minSplit = 1
	rows := genGreeks("SPXW", spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3), 3, 391, 13)
	lines := strings.SplitAfter(string(ndjson(rows)), "\n")
	for _, at := range []int{0, 700, 1500, len(rows) - 1} {
		bad := slices.Clone(lines)
		bad[at] = setField(bad[at], "right", `"Q"`)
		_, err := Convert(context.Background(), spx.Greeks, strings.NewReader(strings.Join(bad, "")), io.Discard, Options{Parallelism: 4})
		var le *LineError
		if !errors.As(err, &le) || le.Line != int64(at+1) {
			t.Fatalf("bad line %d: error %v", at+1, err)
		}
	}
	res, err := Convert(context.Background(), spx.Greeks, strings.NewReader(strings.Join(lines, "")), io.Discard, Options{Parallelism: 4})
	if err != nil || res.Rows != int64(len(rows)) || res.Contracts != 6 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestTwoRootsSortByRootExpirationStrikeRight(t *testing.T) {
	date := spx.NewDate(2024, 3, 14)
	spx1 := genGreeks("SPX", date, spx.NewDate(2024, 3, 15), 3, 5, 14)
	spxw := genGreeks("SPXW", date, spx.NewDate(2024, 3, 15), 3, 5, 15)
	in := ndjson(append(slices.Clone(spxw), spx1...))
	want := append(slices.Clone(spx1), spxw...)
	slices.SortStableFunc(want, func(a, b genRow) int {
		return contractKey{a.strike, a.right, a.root, a.exp}.compare(contractKey{b.strike, b.right, b.root, b.exp})
	})
	path, fi := convertFile(t, in, Options{})
	if fi.Contracts != 12 {
		t.Fatalf("contracts %d, want 12", fi.Contracts)
	}
	checkRows(t, path, want)
}

// A day staged as expirations one after another is already in output
// order: it comes out row for row as it went in, and reversed expirations
// are put back in order.
func TestDayOfExpirationsKeepsStagedOrder(t *testing.T) {
	date := spx.NewDate(2024, 3, 14)
	var day []genRow
	for i, root := range []string{"SPX", "SPXW"} {
		for j, exp := range []spx.Date{spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 22), spx.NewDate(2024, 4, 19)} {
			day = append(day, genGreeks(root, date, exp, 3, 4, uint64(10*i+j))...)
		}
	}
	path, fi := convertFile(t, ndjson(day), Options{})
	if fi.Contracts != 36 || fi.Rows != int64(len(day)) {
		t.Fatalf("contracts %d rows %d, want 36 and %d", fi.Contracts, fi.Rows, len(day))
	}
	checkRows(t, path, day)

	// The same expirations in reverse order must be sorted back.
	var rev []genRow
	for k := len(day); k > 0; k -= 3 * 2 * 4 {
		rev = append(rev, day[k-3*2*4:k]...)
	}
	path, _ = convertFile(t, ndjson(rev), Options{})
	checkRows(t, path, day)
}

func TestRowGroupBounds(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 10, 391, 16)
	for _, tc := range []struct {
		name string
		o    Options
		want int // row groups
	}{
		{"by rows", Options{RowGroupRows: 1000, BatchRows: 300}, (len(rows) + 999) / 1000},
		{"by bytes", Options{RowGroupBytes: 1, BatchRows: 2000}, (len(rows) + 1999) / 2000},
		{"one", Options{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := convertFile(t, ndjson(rows), tc.o)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rdr, err := file.NewParquetReader(f)
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Close()
			if got := rdr.NumRowGroups(); got != tc.want {
				t.Fatalf("%d row groups, want %d", got, tc.want)
			}
			checkRows(t, path, rows)
			if err := VerifyFile(context.Background(), path, int64(len(rows)), ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLineNumbersWhenReordered: a bad value found while decoding rows in
// sorted order (gathered from a shuffled input) still names its input line.
func TestLineNumbersWhenReordered(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 1, 2), spx.NewDate(2024, 1, 3), 4, 50, 17)
	for _, mode := range []string{"blocks", "rows"} {
		lines := strings.SplitAfter(string(ndjson(shuffled(rows, mode, 2))), "\n")
		for _, at := range []int{5, 333} {
			bad := slices.Clone(lines)
			bad[at] = setField(bad[at], "vega", `"x"`)
			in := strings.Join(bad, "")
			for _, out := range []string{"buffer", "file"} {
				var w io.Writer = &bytes.Buffer{}
				if out == "file" {
					f, err := os.Create(filepath.Join(t.TempDir(), "o.parquet"))
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					w = f
				}
				_, err := Convert(context.Background(), spx.Greeks, strings.NewReader(in), w, Options{BatchRows: 64})
				var le *LineError
				if !errors.As(err, &le) || le.Line != int64(at+1) || !strings.Contains(le.Reason, `"vega"`) {
					t.Fatalf("%s/%s: bad line %d: error %v", mode, out, at+1, err)
				}
			}
		}
	}
}
