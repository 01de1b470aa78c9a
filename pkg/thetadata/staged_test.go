package thetadata

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// stageAll decodes body for ds and gen and returns the staged lines, the
// rows as the generic encoder sees them after each step, and the error;
// fast uses nextStaged, otherwise next + spx.AppendStaged.
func stageAll(t *testing.T, body []byte, ds spx.Dataset, gen string, fast bool) ([]byte, []byte, error) {
	t.Helper()
	rec, err := newRecords(bytes.NewReader(body), "mem")
	if err != nil {
		return nil, nil, err
	}
	m, err := newFieldMap(ds, rec.header, gen, true, "mem")
	if err != nil {
		return nil, nil, err
	}
	d := newCSVDecoder(rec, m, gen, tDate, "mem")
	var out, rows []byte
	var r spx.Row
	for {
		var ok bool
		if fast {
			n := len(out)
			out, ok, err = d.nextStaged(out, ds, &r)
			if !ok && len(out) != n {
				t.Fatalf("nextStaged appended %q and returned false", out[n:])
			}
		} else if ok, err = d.next(&r); ok {
			out = spx.AppendStaged(out, ds, &r)
		}
		if !ok {
			return out, rows, err
		}
		// Row stays valid after nextStaged: the fetcher counts contracts
		// from it.
		rows = spx.AppendStaged(rows, ds, &r)
	}
}

func TestNextStagedMatchesAppendStaged(t *testing.T) {
	var greeks bytes.Buffer
	v3GreeksCSV(&greeks, 40, 391)
	g := greeks.String()
	lines := strings.SplitAfter(g, "\n")
	row := func(i int) string { return lines[i] }
	ohlcHead := "symbol,expiration,strike,right,timestamp,open,high,low,close,volume,count\n"
	ohlcVwap := "symbol,expiration,strike,right,timestamp,open,high,low,close,volume,count,vwap\n"
	ohlcRow := "SPXW,2024-03-15,5100.000,PUT,2024-03-15T09:30:00.000,1.5,2,1.25,1.75,10,3"
	tests := []struct {
		name string
		ds   spx.Dataset
		gen  string
		body string
	}{
		{"greeks", spx.Greeks, "v3", g},
		{"greeks crlf", spx.Greeks, "v3", strings.ReplaceAll(g[:20000], "\n", "\r\n") + "\r\n"},
		{"greeks fractional strike, C/P rights, blank lines", spx.Greeks, "v3", row(0) +
			strings.ReplaceAll(row(1), "4000.000,CALL", "4000.5,C") + "\n" +
			strings.ReplaceAll(row(2), "4000.000,CALL", "4000.5,C") +
			strings.ReplaceAll(row(3), "4000.000,CALL", "4000.500,c")},
		{"greeks date changes", spx.Greeks, "v3", row(0) + row(1) + row(2) +
			strings.ReplaceAll(row(3), "2024-03-15T", "2024-03-18T") + row(4)},
		{"greeks quoted fields", spx.Greeks, "v3", row(0) + row(1) +
			strings.Replace(row(2), ",114.95,", `,"114.95",`, 1) +
			strings.Replace(row(3), "SPXW", `"SPXW"`, 1) + row(4)},
		{"greeks exponent, negative zero", spx.Greeks, "v3", row(0) + row(1) +
			strings.Replace(row(2), ",114.95,", ",1.1495e2,", 1) + strings.Replace(row(3), ",0,", ",-0,", 1)},
		{"greeks bare-ms timestamps", spx.Greeks, "v3", row(0) + row(1) +
			strings.ReplaceAll(row(2), "2024-03-15T09:31:00.000", "34260000") + row(3)},
		{"greeks not a number", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",114.95,", ",NaN,", 1)},
		{"greeks leading zero", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",114.95,", ",0114.95,", 1)},
		{"greeks trailing garbage", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",114.95,", ",114.95x,", 1)},
		{"greeks empty value", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",114.95,", ",,", 1)},
		{"greeks empty last value", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",5179.94", ",", 1)},
		{"greeks bad timestamp", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), "T09:31:00.000,114", "T09:31:0x.000,114", 1)},
		{"greeks too few fields", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",5179.94", "", 1)},
		{"greeks too many fields", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), ",5179.94", ",5179.94,1", 1)},
		{"greeks cut line", spx.Greeks, "v3", row(0) + row(1) + strings.TrimSuffix(row(2), "\n")},
		{"greeks bad strike", spx.Greeks, "v3", row(0) + row(1) + strings.Replace(row(2), "4000.000", "-4000", 1)},
		{"greeks columns reordered", spx.Greeks, "v3", strings.Replace(g[:30000], "bid,ask", "ask,bid", 1)},
		{"greeks contract last", spx.Greeks, "v3", "timestamp,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,underlying_timestamp,underlying_price,symbol,expiration,strike,right\n" +
			"2024-03-15T09:30:00.000,1,2,0.5,-0.1,0.2,0.3,-0.4,1.5,0.2,0,2024-03-15T09:30:00.000,5100,SPXW,2024-03-15,5100.000,CALL\n" +
			"2024-03-15T09:31:00.000,1,2,0.5,-0.1,0.2,0.3,-0.4,1.5,0.2,0,2024-03-15T09:31:00.000,5100,SPXW,2024-03-15,5100.000,CALL\n"},
		{"ohlc without vwap", spx.OHLC, "v3", ohlcHead + ohlcRow + "\n" + ohlcRow + "\n" + strings.Replace(ohlcRow, "09:30", "09:31", 1) + "\n"},
		{"ohlc with vwap", spx.OHLC, "v3", ohlcVwap + ohlcRow + ",1.6\n" + ohlcRow + ",\n" + ohlcRow + ",1.7\n"},
		{"quote", spx.Quote, "v3", "symbol,expiration,strike,right,timestamp,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition\n" +
			"SPXW,2024-03-15,5100.000,CALL,2024-03-15T09:30:00.000,10,5,1.5,0,12,5,1.6,0\n" +
			"SPXW,2024-03-15,5100.000,CALL,2024-03-15T09:31:00.000,11,5,1.55,0,12,5,1.65,0\n"},
		{"eod", spx.EOD, "v3", "symbol,expiration,strike,right,created,last_trade,open,high,low,close,volume,count,bid_size,bid_exchange,bid,bid_condition,ask_size,ask_exchange,ask,ask_condition\n" +
			"SPXW,2024-03-15,5100.000,CALL,2024-03-15T17:15:00.000,2024-03-15T15:59:58.123,1,2,0.5,1.5,100,20,10,5,1.5,0,12,5,1.6,0\n" +
			"SPXW,2024-03-15,5105.000,CALL,2024-03-15T17:15:00.000,2024-03-15T15:59:59.000,1,2,0.5,1.5,100,20,10,5,1.5,0,12,5,1.6,0\n"},
		{"open_interest", spx.OpenInterest, "v3", "symbol,expiration,strike,right,timestamp,open_interest\n" +
			"SPXW,2024-03-15,5100.000,CALL,2024-03-15T06:30:00.000,1234\n" +
			"SPXW,2024-03-15,5100.000,PUT,2024-03-15T06:30:00.000,99\n" +
			"SPXW,2024-03-15,5105.000,PUT,2024-03-15T06:30:00.000,98\n"},
		{"v2 csv", spx.Greeks, "v2", "root,expiration,strike,right,ms_of_day,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,ms_of_day2,underlying_price,date\n" +
			"SPXW,20240315,5100000,C,34200000,1,2,0.5,-0.1,0.2,0.3,-0.4,1.5,0.2,0,34200000,5100,20240315\n" +
			"SPXW,20240315,5100000,C,34260000,1,2,0.5,-0.1,0.2,0.3,-0.4,1.5,0.2,0,34260000,5100,20240315\n"},
		{"ndjson", spx.OpenInterest, "v3", `{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"CALL","timestamp":"2024-03-15T06:30:00.000","open_interest":1234}` + "\n" +
			`{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"CALL","timestamp":"2024-03-15T06:31:00.000","open_interest":1235}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantRows, wantErr := stageAll(t, []byte(tt.body), tt.ds, tt.gen, false)
			got, gotRows, gotErr := stageAll(t, []byte(tt.body), tt.ds, tt.gen, true)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("error %v, want %v", gotErr, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("staged lines differ:\n got %.600q\nwant %.600q", got, want)
			}
			if !bytes.Equal(gotRows, wantRows) {
				t.Errorf("rows after nextStaged differ:\n got %.600q\nwant %.600q", gotRows, wantRows)
			}
			if len(want) == 0 && wantErr == nil {
				t.Error("the case staged nothing")
			}
		})
	}
}

// The fast path is taken for the terminal's own greeks header.
func TestStagedPlanGreeks(t *testing.T) {
	var b bytes.Buffer
	v3GreeksCSV(&b, 1, 2)
	rec, err := newRecords(&b, "mem")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newFieldMap(spx.Greeks, rec.header, "v3", true, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if newStagedPlan(rec, m, "v3") == nil {
		t.Fatal("no staged plan for the v3 greeks header")
	}
}
