package terminalsim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden pins whole responses byte for byte (go test -update rewrites
// them after an intended change; review the diff against THETADATA.md).
func TestGolden(t *testing.T) {
	s := New(Config{Seed: 42, MaxExpirations: 1, MaxStrikes: 1})
	tests := []struct {
		file   string
		v2     bool
		target string
	}{
		{"v3_greeks.csv", false, "/v3/option/history/greeks/first_order?symbol=SPXW&expiration=20240315&date=20240315&interval=1h"},
		{"v3_eod.ndjson", false, "/v3/option/history/eod?symbol=SPXW&expiration=20240315&date=20240315&format=ndjson"},
		{"v3_no_data.txt", false, "/v3/option/history/quote?symbol=SPXW&expiration=20240315&date=20240316"},
		{"v2_greeks.json", true, "/v2/bulk_hist/option/greeks?root=SPXW&exp=20240315&start_date=20240315&end_date=20240315&ivl=3600000"},
		{"v2_ohlc.csv", true, "/v2/bulk_hist/option/ohlc?root=SPXW&exp=20240315&start_date=20240315&end_date=20240315&ivl=3600000&use_csv=true"},
		{"v2_no_data.json", true, "/v2/bulk_hist/option/quote?root=SPXW&exp=20240315&start_date=20240316&end_date=20240316"},
		{"v2_contracts.json", true, "/v2/list/contracts/option/quote?start_date=20240315&root=SPXW,SPX"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			h := s.V3Handler()
			if tc.v2 {
				h = s.V2Handler()
			}
			_, _, got := get(t, h, tc.target)
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("response differs from %s:\n got %s\nwant %s", path, got, want)
			}
		})
	}
}
