package terminalsim

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

func TestAppendFixed(t *testing.T) {
	tests := []struct {
		v    int64
		dec  int
		trim bool
		want string
	}{
		{11495, 2, true, "114.95"},
		{11500, 2, true, "115"},
		{11510, 2, true, "115.1"},
		{5, 2, true, "0.05"},
		{0, 4, true, "0"},
		{-393, 4, true, "-0.0393"},
		{5065000, 3, false, "5065.000"},
		{5065500, 3, false, "5065.500"},
		{34200000, 0, true, "34200000"},
		{1000000, 4, true, "100"},
	}
	for _, tc := range tests {
		if got := string(appendFixed(nil, tc.v, tc.dec, tc.trim)); got != tc.want {
			t.Errorf("appendFixed(%d, %d, %v) = %q, want %q", tc.v, tc.dec, tc.trim, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := r.Int64N(1e12) - 5e11
		if got, want := string(appendFixed(nil, v, 0, true)), strconv.FormatInt(v, 10); got != want {
			t.Fatalf("appendFixed(%d) = %q", v, got)
		}
		f, err := strconv.ParseFloat(string(appendFixed(nil, v, 4, true)), 64)
		if err != nil || math.Abs(f-float64(v)/1e4) > 1e-6 {
			t.Fatalf("appendFixed(%d, 4) = %v %v", v, f, err)
		}
	}
}

func TestAppendISO(t *testing.T) {
	got := string(appendISO(nil, spx.NewDate(2024, 3, 15), 34200000+59*1000+7))
	if got != "2024-03-15T09:30:59.007" {
		t.Fatalf("got %q", got)
	}
}

func TestNormalCDF(t *testing.T) {
	for x := -8.0; x <= 8; x += 0.01 {
		phi := math.Exp(-0.5*x*x) * invSqrt2Pi
		want := 0.5 * math.Erfc(-x/math.Sqrt2)
		if got := ncdf(x, phi); math.Abs(got-want) > 1e-7 {
			t.Fatalf("N(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestAppendStamp(t *testing.T) {
	d := spx.NewDate(2024, 3, 15)
	for ms, want := range map[int32]string{
		34200000:       "2024-03-15T09:30:00",
		34200000 + 500: "2024-03-15T09:30:00.5",
		34200000 + 910: "2024-03-15T09:30:00.91",
		34200000 + 471: "2024-03-15T09:30:00.471",
		34200000 + 20:  "2024-03-15T09:30:00.02",
		34200000 + 7:   "2024-03-15T09:30:00.007",
	} {
		if got := string(appendStamp(nil, d, ms)); got != want {
			t.Errorf("appendStamp(%d) = %q, want %q", ms, got, want)
		}
	}
}
