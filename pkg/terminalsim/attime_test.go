package terminalsim

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The endpoints the spec has and the simulator lacked (spec
// paths./option/list/symbols, ./option/list/dates/{request_type} and
// ./option/list/contracts/{request_type} with request_type=trade,
// ./option/at_time/quote, ./option/at_time/trade; each answered 404
// before). Their shapes are checked against the spec by the contract
// tests; these check that they answer from the same market as history.

func TestV3ListSymbols(t *testing.T) {
	s := small(t, nil)
	code, _, body := get(t, s.V3Handler(), "/v3/option/list/symbols")
	if code != 200 || string(body) != "symbol\r\nSPX\r\nSPXW\r\n" {
		t.Fatalf("%d %q", code, body)
	}
}

// at_time/quote at a time of day is the history/quote row of that stamp,
// for every contract and day asked for.
func TestV3AtTimeQuote(t *testing.T) {
	s := small(t, nil)
	h := s.V3Handler()
	for _, exp := range []string{firstExp(t, s, "SPXW", day0315).Compact(), "*"} {
		code, _, at := get(t, h, "/v3/option/at_time/quote?symbol=SPXW&expiration="+exp+"&start_date=20240314&end_date=20240315&time_of_day=10:00:01.000")
		if code != 200 {
			t.Fatalf("%s: %d %s", exp, code, at)
		}
		header, rows := readCSV(t, at)
		var want [][]string
		for _, d := range []string{"20240314", "20240315"} {
			_, _, hist := get(t, h, "/v3/option/history/quote?symbol=SPXW&expiration="+exp+"&date="+d+"&interval=1s&start_time=10:00:01&end_time=10:00:01")
			hh, hr := readCSV(t, hist)
			if strings.Join(hh, ",") != strings.Join(header, ",") {
				t.Fatalf("columns %v, history/quote's %v", header, hh)
			}
			want = append(want, hr...)
		}
		if len(rows) != len(want) || len(rows) == 0 {
			t.Fatalf("%s: %d rows, history has %d", exp, len(rows), len(want))
		}
		for i := range rows {
			if strings.Join(rows[i], ",") != strings.Join(want[i], ",") {
				t.Fatalf("%s row %d: %v, history/quote %v", exp, i, rows[i], want[i])
			}
		}
	}
	// Before the open: the opening quote.
	_, _, body := get(t, h, "/v3/option/at_time/quote?symbol=SPXW&expiration=*&start_date=20240315&end_date=20240315&time_of_day=08:00:00")
	if _, rows := readCSV(t, body); len(rows) == 0 || rows[0][4] != "2024-03-15T09:30:00" {
		t.Fatalf("before the open: %v", rows)
	}
}

// at_time/trade is each contract's last trade at or before time_of_day,
// agreeing with history/ohlc's 1m bars: the trade falls in a bar with
// volume, at its close, and no bar that ended before time_of_day after it
// had volume; a contract without a bar with volume before then answers
// zeros stamped time_of_day. list/contracts/trade lists exactly the
// contracts with volume that day, list/dates/trade the days they traded.
func TestV3AtTimeTradeAndTradeLists(t *testing.T) {
	s := small(t, nil)
	h := s.V3Handler()
	exp := firstExp(t, s, "SPXW", day0315)
	// 1m bars of the whole day, per contract: minute → (volume, close).
	type bar struct{ vol, close string }
	bars := map[string][]bar{}
	_, _, body := get(t, h, "/v3/option/history/ohlc?symbol=SPXW&expiration="+exp.Compact()+"&date=20240315&interval=1m")
	oh, orows := readCSV(t, body)
	for _, r := range orows {
		k := r[2] + " " + r[3]
		bars[k] = append(bars[k], bar{r[index(oh, "volume")], r[index(oh, "close")]})
	}
	zeros, trades := 0, 0
	for _, tod := range []string{"09:30:30", "09:45:00", "12:00:00.500"} {
		todMs, _ := parseClock("t", tod)
		code, _, body := get(t, h, "/v3/option/at_time/trade?symbol=SPXW&expiration="+exp.Compact()+"&start_date=20240315&end_date=20240315&time_of_day="+tod)
		if code != 200 {
			t.Fatalf("%s: %d %s", tod, code, body)
		}
		header, rows := readCSV(t, body)
		if len(rows) != len(bars) {
			t.Fatalf("%s: %d rows, %d contracts", tod, len(rows), len(bars))
		}
		for _, r := range rows {
			k := r[2] + " " + r[3]
			ts, err := time.Parse("2006-01-02T15:04:05", r[index(header, "timestamp")])
			if err != nil {
				t.Fatal(err)
			}
			ms := int32(ts.Hour()*3600000 + ts.Minute()*60000 + ts.Second()*1000 + ts.Nanosecond()/1e6)
			last := -1 // the minute of the trade
			if r[index(header, "size")] == "0" {
				zeros++
				if ms != todMs || r[index(header, "price")] != "0.00" || r[index(header, "sequence")] != "0" {
					t.Fatalf("%s %s: no trade, but %v", tod, k, r)
				}
			} else {
				trades++
				last = int(ms-msOpen) / msMinute
				b := bars[k][last]
				if ms > todMs || b.vol == "0" || b.close != r[index(header, "price")] {
					t.Fatalf("%s %s: trade %v, its 1m bar %v", tod, k, r, b)
				}
				if n, _ := strconv.Atoi(r[index(header, "size")]); n < 1 || r[index(header, "ext_condition1")] != "255" {
					t.Fatalf("%s %s: %v", tod, k, r)
				}
			}
			for m := last + 1; msOpen+(m+1)*msMinute <= int(todMs); m++ {
				if bars[k][m].vol != "0" {
					t.Fatalf("%s %s: minute %d had volume after the trade answered (%v)", tod, k, m, r)
				}
			}
		}
	}
	if zeros == 0 || trades == 0 {
		t.Fatalf("%d zero rows, %d trades: the test saw only one kind", zeros, trades)
	}

	// list/contracts/trade: the contracts with volume that day.
	_, _, body = get(t, h, "/v3/option/list/contracts/trade?symbol=SPXW&date=20240315")
	_, crows := readCSV(t, body)
	listed := map[string]bool{}
	for _, r := range crows {
		if r[1] == exp.String() {
			listed[r[2]+" "+r[3]] = true
		}
	}
	for k, bs := range bars {
		traded := false
		for _, b := range bs {
			traded = traded || b.vol != "0"
		}
		if traded != listed[k] {
			t.Fatalf("%s: traded %v, listed by contracts/trade %v", k, traded, listed[k])
		}
	}
	// list/dates/trade: among the quote dates, those the contracts traded.
	_, _, q := get(t, h, "/v3/option/list/dates/quote?symbol=SPXW&expiration="+exp.Compact())
	code, _, tr := get(t, h, "/v3/option/list/dates/trade?symbol=SPXW&expiration="+exp.Compact())
	_, qd := readCSV(t, q)
	_, td := readCSV(t, tr)
	if code != 200 || len(td) == 0 || len(td) > len(qd) {
		t.Fatalf("dates/trade %d: %v; dates/quote %v", code, td, qd)
	}
	if code, _, _ := get(t, h, "/v3/option/list/dates/trade?symbol=SPXW&expiration="+exp.Compact()+"&strike=1.000"); code != 472 {
		t.Fatalf("a strike never listed: %d, want 472", code)
	}
}
