package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// wantKeys is the staged field order of spx.AppendNDJSON for greeks.
func wantKeys() []string {
	return append([]string{"root", "expiration", "strike", "right", "date"}, spx.Greeks.ColumnNames()...)
}

// keysOf returns the top-level keys of a flat JSON object in order.
func keysOf(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		t.Fatalf("line %s: %v", line, err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		keys = append(keys, k.(string))
		if _, err := dec.Token(); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
	}
	return keys
}

func decimals(n json.Number) int {
	s := string(n)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		contracts int64
		exps      int
	}{
		{"one contract", Config{Rows: 1}, 1, 1},
		{"one expiration", Config{Rows: 10 * Stamps}, 10, 1},
		{"rounded up", Config{Rows: 10*Stamps + 1, Expirations: 3}, 11, 3},
		{"many expirations", Config{Rows: 40 * Stamps, Expirations: 35, Root: "SPX", Date: spx.NewDate(2024, 1, 2)}, 40, 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			st, err := Write(context.Background(), &buf, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if st.Contracts != tt.contracts || st.Rows != tt.contracts*Stamps || st.Expirations != tt.exps || st.Bytes != int64(buf.Len()) {
				t.Fatalf("stats %+v, want %d contracts, %d rows, %d expirations, %d bytes", st, tt.contracts, tt.contracts*Stamps, tt.exps, buf.Len())
			}
			cfg := tt.cfg.withDefaults()
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			if int64(len(lines)) != st.Rows {
				t.Fatalf("%d lines, want %d", len(lines), st.Rows)
			}
			want := strings.Join(wantKeys(), ",")
			seen := map[string]bool{}
			exps := map[json.Number]bool{}
			prev := ""
			for i, line := range lines {
				if i%97 == 0 { // key order on a sample; values on every line
					if got := strings.Join(keysOf(t, line), ","); got != want {
						t.Fatalf("line %d keys %s, want %s", i, got, want)
					}
				}
				var r map[string]any
				dec := json.NewDecoder(bytes.NewReader(line))
				dec.UseNumber()
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("line %d %s: %v", i, line, err)
				}
				if r["root"] != cfg.Root || r["date"] != json.Number(fmt.Sprint(cfg.Date.Int())) {
					t.Fatalf("line %d root/date: %s", i, line)
				}
				right := r["right"].(string)
				if right != "C" && right != "P" {
					t.Fatalf("line %d right %q", i, right)
				}
				exps[r["expiration"].(json.Number)] = true
				key := fmt.Sprint(r["expiration"], r["strike"], right)
				if key != prev {
					if seen[key] {
						t.Fatalf("line %d: contract %s is not contiguous", i, key)
					}
					seen[key] = true
					prev = key
				}
				stamp := int64(i % Stamps)
				if ms := r["ms_of_day"].(json.Number); ms != json.Number(fmt.Sprint(msOpen+msStep*stamp)) || r["ms_of_day2"] != ms {
					t.Fatalf("line %d ms_of_day %v, ms_of_day2 %v, want %d", i, ms, r["ms_of_day2"], msOpen+msStep*stamp)
				}
				for _, k := range []string{"bid", "ask", "underlying_price"} {
					n := r[k].(json.Number)
					f, _ := n.Float64()
					if decimals(n) > 2 || f < 0 {
						t.Fatalf("line %d %s=%s: want a price with at most 2 decimals", i, k, n)
					}
					if k != "underlying_price" && math.Abs(math.Round(f*20)-f*20) > 1e-9 {
						t.Fatalf("line %d %s=%s: not on a 0.05 tick", i, k, n)
					}
				}
				bid, _ := r["bid"].(json.Number).Float64()
				ask, _ := r["ask"].(json.Number).Float64()
				if bid > ask {
					t.Fatalf("line %d: bid %v above ask %v", i, bid, ask)
				}
				for _, k := range []string{"delta", "theta", "vega", "rho", "epsilon", "lambda", "implied_vol", "iv_error"} {
					if n := r[k].(json.Number); decimals(n) > 4 {
						t.Fatalf("line %d %s=%s: want at most 4 decimals", i, k, n)
					}
				}
			}
			if len(exps) != tt.exps {
				t.Fatalf("%d expirations, want %d", len(exps), tt.exps)
			}
			if !exps[json.Number(fmt.Sprint(cfg.Date.Int()))] {
				t.Fatalf("no 0DTE expiration among %v", exps)
			}
		})
	}
}

// TestWriteMatchesAppendNDJSON re-encodes the first line through
// spx.AppendNDJSON from its parsed values: the bytes must be identical.
func TestWriteMatchesAppendNDJSON(t *testing.T) {
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, Config{Rows: 1}); err != nil {
		t.Fatal(err)
	}
	line := buf.Bytes()[:bytes.IndexByte(buf.Bytes(), '\n')+1]
	var r map[string]json.RawMessage
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatal(err)
	}
	var strike float64
	var expInt, dateInt int
	json.Unmarshal(r["strike"], &strike)
	json.Unmarshal(r["expiration"], &expInt)
	json.Unmarshal(r["date"], &dateInt)
	exp, _ := spx.DateFromInt(expInt)
	date, _ := spx.DateFromInt(dateInt)
	row := spx.Row{Contract: spx.Contract{Root: "SPXW", Expiration: exp, Strike: strike, Right: 'C'}, Date: date}
	for _, c := range spx.Greeks.Columns() {
		row.Values = append(row.Values, r[c.Name])
	}
	if got := spx.AppendNDJSON(nil, spx.Greeks, &row); !bytes.Equal(got, line) {
		t.Fatalf("re-encoded\n%s\nwant\n%s", got, line)
	}
}

func TestWriteDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	cfg := Config{Rows: 5 * Stamps, Expirations: 2, Seed: 7}
	for _, w := range []*bytes.Buffer{&a, &b} {
		if _, err := Write(context.Background(), w, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same config gave different bytes")
	}
	cfg.Seed = 8
	if _, err := Write(context.Background(), &c, cfg); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("different seeds gave the same bytes")
	}
}

func TestWriteErrors(t *testing.T) {
	if _, err := Write(context.Background(), &bytes.Buffer{}, Config{}); err == nil {
		t.Fatal("zero rows: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, &bytes.Buffer{}, Config{Rows: 100 * Stamps}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
}

func TestAppendFixed(t *testing.T) {
	tests := []struct {
		v    int64
		dec  int
		want string
	}{
		{11500, 2, "115"}, {11495, 2, "114.95"}, {11490, 2, "114.9"}, {5, 2, "0.05"}, {0, 2, "0"},
		{9988, 4, "0.9988"}, {-393, 4, "-0.0393"}, {-19697, 4, "-1.9697"}, {2500, 4, "0.25"}, {1000000, 4, "100"},
	}
	for _, tt := range tests {
		if got := string(appendFixed(nil, tt.v, tt.dec)); got != tt.want {
			t.Errorf("appendFixed(%d, %d) = %s, want %s", tt.v, tt.dec, got, tt.want)
		}
	}
}

// TestWriteStaged: the staged form has the same rows as arrays, and the
// same values in the same order as the object form.
func TestWriteStaged(t *testing.T) {
	var obj, arr bytes.Buffer
	cfg := Config{Rows: 3 * Stamps, Expirations: 1, Seed: 7}
	if _, err := Write(context.Background(), &obj, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Staged = true
	st, err := Write(context.Background(), &arr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	objLines := bytes.Split(bytes.TrimSpace(obj.Bytes()), []byte("\n"))
	arrLines := bytes.Split(bytes.TrimSpace(arr.Bytes()), []byte("\n"))
	if len(arrLines) != len(objLines) || int64(len(arrLines)) != st.Rows || st.Bytes != int64(arr.Len()) {
		t.Fatalf("%d array lines, %d object lines, stats %+v", len(arrLines), len(objLines), st)
	}
	var o map[string]json.RawMessage
	var a []json.RawMessage
	if err := json.Unmarshal(objLines[1], &o); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(arrLines[1], &a); err != nil {
		t.Fatal(err)
	}
	for i, name := range spx.StagedColumns(spx.Greeks) {
		if string(a[i]) != string(o[name]) {
			t.Errorf("%s: array has %s, object %s", name, a[i], o[name])
		}
	}
}
