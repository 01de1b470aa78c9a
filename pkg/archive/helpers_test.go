package archive

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"

	"github.com/spx-archive/spx/pkg/spx"
)

// genRow is one synthetic greeks row as the test expects to read it back.
type genRow struct {
	root   string
	exp    spx.Date
	strike float64
	right  byte
	date   spx.Date
	ms     int32
	vals   []float64 // greeks float columns in Columns() order (ms columns skipped)
	ms2    int32
}

// genGreeks builds contracts × stamps rows of realistic greeks for one
// (root, date, expiration), each contract's rows contiguous and in time
// order, contracts in ascending (strike, right) order.
func genGreeks(root string, date, exp spx.Date, strikes, stamps int, seed uint64) []genRow {
	r := rand.New(rand.NewPCG(seed, 7))
	var rows []genRow
	und := 5179.94
	for s := range strikes {
		strike := 4800 + float64(s)*5
		if s%7 == 3 {
			strike += 2.5 // a few half strikes
		}
		for _, right := range []byte{'C', 'P'} {
			for t := range stamps {
				ms := int32(34_200_000 + t*60_000)
				u := math.Round((und+float64(t)*0.37)*100) / 100
				bid := math.Round(r.Float64()*20000) / 100
				row := genRow{root: root, exp: exp, strike: strike, right: right, date: date, ms: ms, ms2: ms,
					vals: []float64{
						bid, bid + 0.1,
						math.Round(r.Float64()*1e4) / 1e4, -math.Round(r.Float64()*1e4) / 1e4,
						math.Round(r.Float64()*1e4) / 1e4, math.Round(r.Float64()*1e4) / 1e4,
						-math.Round(r.Float64()*1e4) / 1e4, math.Round(r.Float64()*1e4) / 1e4,
						math.Round(r.Float64()*1e4) / 1e4, 0, u,
					}}
				if t == 0 {
					row.vals[0], row.vals[1] = 0, 0
					row.vals[8], row.vals[9] = 0.25, 100
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// ndjson renders rows with spx.AppendNDJSON, in the given order.
func ndjson(rows []genRow) []byte { return render(rows, spx.AppendNDJSON) }

// staged renders rows with spx.AppendStaged (the fetchers' array form).
func staged(rows []genRow) []byte { return render(rows, spx.AppendStaged) }

func render(rows []genRow, appendRow func([]byte, spx.Dataset, *spx.Row) []byte) []byte {
	var out []byte
	vals := make([][]byte, len(spx.Greeks.Columns()))
	for _, g := range rows {
		r := spx.Row{Contract: spx.Contract{Root: g.root, Expiration: g.exp, Strike: g.strike, Right: g.right}, Date: g.date, Values: vals}
		fi := 0
		for i, c := range spx.Greeks.Columns() {
			switch {
			case c.Name == "ms_of_day":
				vals[i] = strconv.AppendInt(nil, int64(g.ms), 10)
			case c.Name == "ms_of_day2":
				vals[i] = strconv.AppendInt(nil, int64(g.ms2), 10)
			default:
				vals[i] = strconv.AppendFloat(nil, g.vals[fi], 'f', -1, 64)
				fi++
			}
		}
		out = appendRow(out, spx.Greeks, &r)
	}
	return out
}

// readBack reads a Parquet file fully with pqarrow.
func readBack(t testing.TB, path string) arrow.Table {
	t.Helper()
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
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// column returns the chunks of a named column concatenated as one array.
func column(t testing.TB, tbl arrow.Table, name string) arrow.Array {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %q not found in %s", name, tbl.Schema())
	}
	arr, err := array.Concatenate(tbl.Column(idx[0]).Data().Chunks(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return arr
}

func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.ndjson")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyReader hides ReaderAt/Seeker so Convert takes the spill path.
type onlyReader struct{ r *bytes.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}
