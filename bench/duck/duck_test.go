package duck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spx-archive/spx/bench/gen"
	"github.com/spx-archive/spx/pkg/spx"
)

func TestColumnTypes(t *testing.T) {
	got := ColumnTypes(spx.Greeks)
	for _, want := range []string{"'root': 'VARCHAR'", "'expiration': 'INTEGER'", "'strike': 'DOUBLE'", "'ms_of_day': 'INTEGER'", "'underlying_price': 'DOUBLE'", "'ms_of_day2': 'INTEGER'"} {
		if !strings.Contains(got, want) {
			t.Errorf("ColumnTypes(greeks) = %s, missing %s", got, want)
		}
	}
	if !strings.Contains(ColumnTypes(spx.Quote), "'bid_size': 'BIGINT'") {
		t.Errorf("quote sizes are not BIGINT: %s", ColumnTypes(spx.Quote))
	}
	if got := quote("it's"); got != "'it''s'" {
		t.Errorf("quote = %s", got)
	}
}

// TestConvertAndSummarize converts generated NDJSON and checks the file
// against sums computed straight from the NDJSON, then checks that a
// date32 copy with the rows in another order summarises the same.
func TestConvertAndSummarize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	st, err := gen.Write(ctx, f, gen.Config{Rows: 20 * gen.Stamps, Expirations: 2})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(dir, "out.parquet")
	if err := Convert(ctx, db, spx.Greeks, in, out); err != nil {
		t.Fatal(err)
	}
	got, err := Summarize(ctx, db, out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != st.Rows || len(got.Sums) != 3+len(spx.Greeks.Columns()) || len(got.Hashes) != 2 {
		t.Fatalf("summary has %d rows, %d sums, %d hashes; want %d rows, %d sums, 2 hashes", got.Rows, len(got.Sums), len(got.Hashes), st.Rows, 3+len(spx.Greeks.Columns()))
	}
	var bidSum float64
	if err := db.QueryRowContext(ctx, "SELECT kahan_sum(bid) FROM read_json("+quote(in)+", format='newline_delimited', columns="+ColumnTypes(spx.Greeks)+")").Scan(&bidSum); err != nil {
		t.Fatal(err)
	}
	if d := got.Sums["bid"] - bidSum; d > 1e-6 || d < -1e-6 || bidSum == 0 {
		t.Fatalf("bid sum %v, NDJSON says %v", got.Sums["bid"], bidSum)
	}

	// The same rows with dates as DATE, shuffled, plus an extra timestamp
	// column, as spx writes them.
	other := filepath.Join(dir, "other.parquet")
	q := "COPY (SELECT * REPLACE (strptime(expiration::VARCHAR, '%Y%m%d')::DATE AS expiration, strptime(date::VARCHAR, '%Y%m%d')::DATE AS date), " +
		"TIMESTAMP '2024-03-15 09:30:00' AS timestamp FROM read_parquet(" + quote(out) + ") ORDER BY hash(ms_of_day, strike, \"right\")) TO " + quote(other) + " (FORMAT parquet)"
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	same, err := Summarize(ctx, db, other)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := Compare(got, same, 1e-9); len(diffs) != 0 {
		t.Fatalf("date32 copy differs: %v", diffs)
	}
}

func TestCompare(t *testing.T) {
	base := Summary{Rows: 10, Sums: map[string]float64{"bid": 1000, "delta": 0}, Hashes: map[string]string{"right": "123"}}
	tests := []struct {
		name  string
		got   Summary
		diffs int
		word  string
	}{
		{"equal", base, 0, ""},
		{"rounding noise", Summary{Rows: 10, Sums: map[string]float64{"bid": 1000 * (1 + 1e-12), "delta": 1e-9, "extra": 5}, Hashes: map[string]string{"right": "123"}}, 0, ""},
		{"rows", Summary{Rows: 9, Sums: base.Sums, Hashes: base.Hashes}, 1, "rows"},
		{"sum", Summary{Rows: 10, Sums: map[string]float64{"bid": 1000.5, "delta": 0}, Hashes: base.Hashes}, 1, "bid"},
		{"missing column", Summary{Rows: 10, Sums: map[string]float64{"bid": 1000}, Hashes: base.Hashes}, 1, "delta"},
		{"string values", Summary{Rows: 10, Sums: base.Sums, Hashes: map[string]string{"right": "124"}}, 1, "right"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diffs := Compare(base, tt.got, 1e-9)
			if len(diffs) != tt.diffs || (tt.word != "" && !strings.Contains(diffs[0], tt.word)) {
				t.Fatalf("diffs %q, want %d mentioning %q", diffs, tt.diffs, tt.word)
			}
		})
	}
}

func TestColumnSizes(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(t.TempDir(), "t.parquet")
	if _, err := db.ExecContext(ctx, "COPY (SELECT range AS a, 'x' AS b, random() AS c FROM range(100000)) TO "+quote(out)+" (FORMAT parquet, ROW_GROUP_SIZE 30000)"); err != nil {
		t.Fatal(err)
	}
	sizes, err := ColumnSizes(ctx, db, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 || sizes[0].Column != "c" || sizes[2].Column != "b" || sizes[0].Compressed < 100000*6 || sizes[0].Encodings == "" {
		t.Fatalf("sizes %+v: want c (random doubles) largest, b (one constant) smallest", sizes)
	}
}
