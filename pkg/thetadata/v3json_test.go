package thetadata

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// TestV3JSONShapes reads the same two rows in every format=json shape a
// source describes; each must give the same NDJSON.
func TestV3JSONShapes(t *testing.T) {
	want := `{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"CALL","timestamp":"2024-03-15T09:30:00.000","open_interest":12}` + "\n" +
		`{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"PUT","timestamp":"2024-03-15T09:30:00.000","open_interest":7}` + "\n"
	tests := []struct{ name, body string }{
		// The spec's application/json history examples.
		{"contract+data", `{"response":[
		  {"contract":{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"CALL"},"data":[{"timestamp":"2024-03-15T09:30:00.000","open_interest":12}]},
		  {"contract":{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"PUT"},"data":[{"timestamp":"2024-03-15T09:30:00.000","open_interest":7}]}]}`},
		// The spec's list examples (flat rows).
		{"rows", `{"response":[{"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"CALL","timestamp":"2024-03-15T09:30:00.000","open_interest":12},
		  {"symbol":"SPXW","expiration":"2024-03-15","strike":5100.000,"right":"PUT","timestamp":"2024-03-15T09:30:00.000","open_interest":7}]}`},
		// Columnar, as Lumiwealth/lumibot (lumibot/tools/thetadata_helper.py
		// _convert_columnar_to_row_format) and trade4ticks/Thetadata_Raw_SPX
		// (lib/client.py _parse_rows) read it from real terminals.
		{"columnar", `{"symbol":["SPXW","SPXW"],"expiration":["2024-03-15","2024-03-15"],"strike":[5100.000,5100.000],"right":["CALL","PUT"],
		  "timestamp":["2024-03-15T09:30:00.000","2024-03-15T09:30:00.000"],"open_interest":[12,7]}`},
		// The v2-style envelope trade4ticks' _parse_rows also takes.
		{"header+response", `{"header":{"format":["symbol","expiration","strike","right","timestamp","open_interest"]},"response":[
		  ["SPXW","2024-03-15",5100.000,"CALL","2024-03-15T09:30:00.000",12],["SPXW","2024-03-15",5100.000,"PUT","2024-03-15T09:30:00.000",7]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(newV3JSON(strings.NewReader(tt.body), "test"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestV3JSONErrors(t *testing.T) {
	tests := []struct {
		name, body string
		class      spx.ErrorClass
		says       string
	}{
		{"empty", ``, spx.ClassPermanent, "empty body"},
		{"cut", `{"response":[{"contract":{"symbol":"SPXW"},"data":[{"a":1}`, spx.ClassTransient, "ended before it was closed"},
		{"columns of two lengths", `{"symbol":["SPXW","SPXW"],"strike":[5100]}`, spx.ClassPermanent, `"strike" has 1 values`},
		{"not an object", `[1,2]`, spx.ClassPermanent, "does not start with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := io.ReadAll(newV3JSON(strings.NewReader(tt.body), "test"))
			if err == nil || spx.ClassOf(err) != tt.class || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err %v (class %v), want %v saying %q", err, spx.ClassOf(err), tt.class, tt.says)
			}
			if tt.name == "empty" && !errors.Is(err, ErrEmptyBody) {
				t.Fatalf("not ErrEmptyBody: %v", err)
			}
		})
	}
}

// TestNDJSONLastLine: the spec's NDJSON examples end without a line ending
// after the last object, which is a whole answer; a last line cut inside an
// object is a cut connection (transient), not bad data.
func TestNDJSONLastLine(t *testing.T) {
	whole := `{"symbol":"SPXW","expiration":"2024-03-15"}` + "\n" + `{"symbol":"SPXW","expiration":"2024-03-22"}`
	rec, err := newRecords(strings.NewReader(whole), "test")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := rec.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d records, want 2", n)
	}
	rec, err = newRecords(strings.NewReader(whole[:len(whole)-5]), "test")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rec.next()
	if _, err := rec.next(); spx.ClassOf(err) != spx.ClassTransient || !errors.Is(err, ErrTruncated) {
		t.Fatalf("a cut last object: %v, want a transient truncation", err)
	}
}

// TestV3JSONColumnarCap: a columnar answer is held whole, so its size is
// bounded, with an error saying to use csv; the streamed shapes are not.
func TestV3JSONColumnarCap(t *testing.T) {
	defer func(n int64) { maxColumnarBody = n }(maxColumnarBody)
	maxColumnarBody = 4096 // the decoder reads ahead: the cap counts from the first key on
	big := `{"symbol":[` + strings.Repeat(`"SPXW",`, 5000) + `"SPXW"]}`
	if _, err := io.ReadAll(newV3JSON(strings.NewReader(big), "test")); err == nil || !strings.Contains(err.Error(), "set thetadata.format to csv") {
		t.Fatalf("over the cap: %v", err)
	}
	rows := `{"response":[` + strings.Repeat(`{"symbol":"SPXW"},`, 40) + `{"symbol":"SPXW"}]}`
	if got, err := io.ReadAll(newV3JSON(strings.NewReader(rows), "test")); err != nil || strings.Count(string(got), "\n") != 41 {
		t.Fatalf("streamed rows over the cap: %v, %d lines", err, strings.Count(string(got), "\n"))
	}
}
