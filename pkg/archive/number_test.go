package archive

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestScanNumber(t *testing.T) {
	for _, tc := range []struct {
		in    string
		end   int
		isInt bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"123,", 3, true}, {"-5179.94}", 8, false},
		{"1e5", 3, false}, {"1.5E-3", 6, false}, {"2e+10", 5, false},
		{"01", 1, true}, // the number is "0"; the caller then sees a stray '1'
		{"", -1, false}, {"-", -1, false}, {"+1", -1, false}, {".5", -1, false}, {"1.", -1, false},
		{"1e", -1, false}, {"NaN", -1, false}, {"Infinity", -1, false}, {"-Infinity", -1, false},
		{"null", -1, false}, {`"1"`, -1, false}, {"0x10", 1, true},
	} {
		end, isInt := scanNumber([]byte(tc.in), 0)
		if end != tc.end || (end >= 0 && isInt != tc.isInt) {
			t.Errorf("scanNumber(%q) = %d, %v; want %d, %v", tc.in, end, isInt, tc.end, tc.isInt)
		}
		// The one-pass scanners agree on where a number ends.
		if _, fend := scanFloat([]byte(tc.in), 0); fend != tc.end {
			t.Errorf("scanFloat(%q) ends at %d, want %d", tc.in, fend, tc.end)
		}
		wantInt := tc.end
		if !tc.isInt {
			wantInt = -1
		}
		if _, iend := scanInt([]byte(tc.in), 0); iend != wantInt {
			t.Errorf("scanInt(%q) ends at %d, want %d", tc.in, iend, wantInt)
		}
	}
}

func TestParseFloatMatchesStrconv(t *testing.T) {
	toks := []string{"0", "-0", "0.1", "5065", "5065.5", "114.95", "-1.9697", "0.0000001", "123456789012345678",
		"1234567890123456789", "9007199254740993", "0.30000000000000004", "1e-7", "1.5e300", "-2.5E-300",
		"4.9e-324", "1.7976931348623157e308", "99999999999999999999.5", "3.3828"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		toks = append(toks, strconv.FormatFloat(math.Round(r.NormFloat64()*1e6)/math.Pow10(r.IntN(9)), 'f', -1, 64))
		toks = append(toks, strconv.FormatFloat(r.Float64()*math.Pow10(r.IntN(30)-15), 'g', -1, 64))
	}
	for _, tok := range toks {
		want, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			t.Fatal(err)
		}
		end, _ := scanNumber([]byte(tok), 0)
		if end != len(tok) {
			t.Fatalf("scanNumber rejected %q", tok)
		}
		if got := parseFloat([]byte(tok)); got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("parseFloat(%q) = %v, want %v", tok, got, want)
		}
		if got, end := scanFloat([]byte(tok+","), 0); end != len(tok) || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("scanFloat(%q) = %v, %d; want %v, %d", tok, got, end, want, len(tok))
		}
	}
	if got := parseFloat([]byte("1e999")); !math.IsInf(got, 0) {
		t.Fatalf("1e999 parsed as %v", got)
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in string
		v  int64
		ok bool
	}{
		{"0", 0, true}, {"-34200000", -34200000, true}, {"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true}, {"9223372036854775808", 0, false},
		{"123456789012345678", 123456789012345678, true},
	} {
		v, ok := parseInt([]byte(tc.in))
		if ok != tc.ok || (ok && v != tc.v) {
			t.Errorf("parseInt(%q) = %d, %v", tc.in, v, ok)
		}
		v, end := scanInt([]byte(tc.in+"}"), 0)
		if (end >= 0) != tc.ok || (tc.ok && (v != tc.v || end != len(tc.in))) {
			t.Errorf("scanInt(%q) = %d, %d", tc.in, v, end)
		}
	}
}
