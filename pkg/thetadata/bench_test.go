package thetadata

import (
	"bytes"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// decodeAll runs the page decoder of gen over body and returns the rows.
func decodeAll(tb testing.TB, body []byte, gen string) int {
	var dec pageDecoder
	if gen == "v2" {
		d, err := openV2JSON(bytes.NewReader(body), spx.Greeks, "mem")
		if err != nil {
			tb.Fatal(err)
		}
		dec = d
	} else {
		rec, err := newRecords(bytes.NewReader(body), "mem")
		if err != nil {
			tb.Fatal(err)
		}
		m, err := newFieldMap(spx.Greeks, rec.header, "v3", true, "mem")
		if err != nil {
			tb.Fatal(err)
		}
		dec = newCSVDecoder(rec, m, "v3", tDate, "mem")
	}
	var r spx.Row
	n := 0
	for {
		ok, err := dec.next(&r)
		if err != nil {
			tb.Fatal(err)
		}
		if !ok {
			return n
		}
		n++
	}
}

// One near-term expiration: 600 contracts × 391 stamps ≈ 235k rows.
func benchBodies() (v2, v3 []byte) {
	var a, b bytes.Buffer
	v2Page(&a, "null", 600, 391, 0)
	v3GreeksCSV(&b, 600, 391)
	return a.Bytes(), b.Bytes()
}

func benchDecode(b *testing.B, gen string) {
	v2, v3 := benchBodies()
	body := v3
	if gen == "v2" {
		body = v2
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	rows := 0
	for b.Loop() {
		rows += decodeAll(b, body, gen)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkDecodeV2JSON(b *testing.B) { benchDecode(b, "v2") }
func BenchmarkDecodeV3CSV(b *testing.B)  { benchDecode(b, "v3") }

// The decoders allocate nothing per row: a body ten times longer costs
// (almost) no more allocations.
func TestDecodeAllocations(t *testing.T) {
	for _, gen := range []string{"v2", "v3"} {
		small, big := genBody(gen, 4), genBody(gen, 40)
		a1 := testing.AllocsPerRun(1, func() { decodeAll(t, small, gen) })
		a2 := testing.AllocsPerRun(1, func() { decodeAll(t, big, gen) })
		if a2 > a1+50 {
			t.Errorf("%s: %v allocations for 4 contracts, %v for 40: allocating per row", gen, a1, a2)
		}
	}
}

func genBody(gen string, contracts int) []byte {
	var b bytes.Buffer
	if gen == "v2" {
		v2Page(&b, "null", contracts, 391, 0)
	} else {
		v3GreeksCSV(&b, contracts, 391)
	}
	return b.Bytes()
}
