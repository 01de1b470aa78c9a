// Package duck runs the DuckDB baselines the converter is measured against
// and reads Parquet files back for the benchmark's correctness gate.
//
// It is linked only into the bench module, never into the spx binary (DuckDB
// needs cgo and a 60 MB library). It must not decide pass or fail: it
// returns numbers and differences, the caller judges them.
package duck

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" database/sql driver

	"github.com/spx-archive/spx/pkg/spx"
)

// Open opens an in-memory DuckDB limited to threads worker threads (0 keeps
// DuckDB's default).
func Open(ctx context.Context, threads int) (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("opening duckdb: %w", err)
	}
	// One connection: SET applies per database here, but keeping a single
	// connection makes the thread setting unambiguous.
	db.SetMaxOpenConns(1)
	if threads > 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
			db.Close()
			return nil, fmt.Errorf("setting duckdb threads to %d: %w", threads, err)
		}
	}
	return db, nil
}

// ColumnTypes is the explicit DuckDB column spec of ds's staged NDJSON
// (spx.AppendNDJSON): root, expiration, strike, right, date, then the
// dataset's canonical columns, e.g. {'root': 'VARCHAR', ...}.
func ColumnTypes(ds spx.Dataset) string {
	var b strings.Builder
	b.WriteString("{'root': 'VARCHAR', 'expiration': 'INTEGER', 'strike': 'DOUBLE', 'right': 'VARCHAR', 'date': 'INTEGER'")
	for _, c := range ds.Columns() {
		t := "DOUBLE"
		switch c.Type {
		case spx.Int32:
			t = "INTEGER"
		case spx.Int64:
			t = "BIGINT"
		}
		fmt.Fprintf(&b, ", '%s': '%s'", c.Name, t)
	}
	b.WriteString("}")
	return b.String()
}

// ConvertSQL is the baseline statement: read the NDJSON with explicit
// column types and copy it to zstd Parquet.
func ConvertSQL(ds spx.Dataset, in, out string) string {
	return fmt.Sprintf("COPY (SELECT * FROM read_json(%s, format = 'newline_delimited', columns = %s)) TO %s (FORMAT parquet, COMPRESSION zstd)",
		quote(in), ColumnTypes(ds), quote(out))
}

// Convert runs the baseline on db.
func Convert(ctx context.Context, db *sql.DB, ds spx.Dataset, in, out string) error {
	if _, err := db.ExecContext(ctx, ConvertSQL(ds, in, out)); err != nil {
		return fmt.Errorf("converting %s with duckdb: %w", in, err)
	}
	return nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Summary is what the correctness gate compares between two Parquet files.
type Summary struct {
	Rows int64
	// Sums holds the compensated sum of every numeric column; DATE columns
	// are summed as YYYYMMDD integers so a date32 column and an INTEGER
	// YYYYMMDD column compare equal.
	Sums map[string]float64
	// Hashes holds, for every string column, the sum of DuckDB's hash of
	// each value: order-independent and exact.
	Hashes map[string]string
}

// Summarize reads the Parquet file at path and computes its Summary.
// Columns of other types (timestamps, lists) are skipped.
func Summarize(ctx context.Context, db *sql.DB, path string) (Summary, error) {
	src := "read_parquet(" + quote(path) + ")"
	rows, err := db.QueryContext(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "+src+")")
	if err != nil {
		return Summary{}, fmt.Errorf("describing %s: %w", path, err)
	}
	type column struct{ name, kind string }
	var cols []column
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return Summary{}, fmt.Errorf("describing %s: %w", path, err)
		}
		switch kind := kindOf(typ); kind {
		case "number", "date", "string":
			cols = append(cols, column{name, kind})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("describing %s: %w", path, err)
	}

	exprs := []string{"count(*)"}
	for _, c := range cols {
		id := `"` + strings.ReplaceAll(c.name, `"`, `""`) + `"`
		switch c.kind {
		case "number":
			exprs = append(exprs, "coalesce(kahan_sum("+id+"::DOUBLE), 0)")
		case "date":
			exprs = append(exprs, "coalesce(kahan_sum((year("+id+")*10000 + month("+id+")*100 + day("+id+"))::DOUBLE), 0)")
		case "string":
			exprs = append(exprs, "coalesce(sum(hash("+id+"))::VARCHAR, '0')")
		}
	}
	vals := make([]any, len(exprs))
	s := Summary{Sums: map[string]float64{}, Hashes: map[string]string{}}
	vals[0] = &s.Rows
	nums := make([]float64, len(cols))
	strs := make([]string, len(cols))
	for i, c := range cols {
		if c.kind == "string" {
			vals[i+1] = &strs[i]
		} else {
			vals[i+1] = &nums[i]
		}
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + src
	if err := db.QueryRowContext(ctx, q).Scan(vals...); err != nil {
		return Summary{}, fmt.Errorf("summing the columns of %s: %w", path, err)
	}
	for i, c := range cols {
		if c.kind == "string" {
			s.Hashes[c.name] = strs[i]
		} else {
			s.Sums[c.name] = nums[i]
		}
	}
	return s, nil
}

func kindOf(duckType string) string {
	switch strings.ToUpper(duckType) {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE":
		return "number"
	case "DATE":
		return "date"
	case "VARCHAR":
		return "string"
	}
	if strings.HasPrefix(strings.ToUpper(duckType), "DECIMAL") {
		return "number"
	}
	return "other"
}

// Compare lists the differences between want (the baseline) and got: row
// count, every column of want missing from got, sums differing by more
// than relTol relative (or 1e-6 absolute for sums near zero), and string
// hashes that differ. Columns only in got are ignored (spx adds timestamp).
func Compare(want, got Summary, relTol float64) []string {
	var diffs []string
	if want.Rows != got.Rows {
		diffs = append(diffs, fmt.Sprintf("rows: baseline %d, spx %d", want.Rows, got.Rows))
	}
	for _, name := range sortedKeys(want.Sums) {
		w := want.Sums[name]
		g, ok := got.Sums[name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("column %s: missing or not numeric", name))
			continue
		}
		if d := math.Abs(w - g); d > 1e-6 && d > relTol*math.Max(math.Abs(w), math.Abs(g)) {
			diffs = append(diffs, fmt.Sprintf("column %s: sum baseline %.10g, spx %.10g", name, w, g))
		}
	}
	for _, name := range sortedKeys(want.Hashes) {
		g, ok := got.Hashes[name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("column %s: missing or not a string", name))
			continue
		}
		if g != want.Hashes[name] {
			diffs = append(diffs, fmt.Sprintf("column %s: values differ (hash sum %s vs %s)", name, want.Hashes[name], g))
		}
	}
	return diffs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ColumnSize is one column's compressed and uncompressed bytes in a Parquet
// file, summed over row groups.
type ColumnSize struct {
	Column       string
	Compressed   int64
	Uncompressed int64
	Encodings    string // of the first row group
}

// ColumnSizes reads the footer of the Parquet file at path, largest
// compressed column first.
func ColumnSizes(ctx context.Context, db *sql.DB, path string) ([]ColumnSize, error) {
	rows, err := db.QueryContext(ctx, "SELECT path_in_schema, sum(total_compressed_size), sum(total_uncompressed_size), first(encodings ORDER BY row_group_id) "+
		"FROM parquet_metadata("+quote(path)+") GROUP BY 1 ORDER BY 2 DESC, 1")
	if err != nil {
		return nil, fmt.Errorf("reading the column sizes of %s: %w", path, err)
	}
	defer rows.Close()
	var out []ColumnSize
	for rows.Next() {
		var c ColumnSize
		if err := rows.Scan(&c.Column, &c.Compressed, &c.Uncompressed, &c.Encodings); err != nil {
			return nil, fmt.Errorf("reading the column sizes of %s: %w", path, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the column sizes of %s: %w", path, err)
	}
	return out, nil
}

// ConvertCSVSQL is the naive peer's conversion: every CSV file matching
// glob, types auto-detected, into one zstd Parquet file.
func ConvertCSVSQL(glob, out string) string {
	return fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, union_by_name = true)) TO %s (FORMAT parquet, COMPRESSION zstd)", quote(glob), quote(out))
}
