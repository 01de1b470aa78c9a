package thetadata

import (
	"bytes"
	"testing"
	"testing/iotest"

	"github.com/spx-archive/spx/pkg/spx"
)

// A reader that hands out one byte at a time makes the scanner refill (and
// compact) its buffer between every key and its value. Keys must survive
// that: a key slice pointing into the buffer used to change under the
// decoder, failing with "a contract lacks root, expiration, strike or right".
func TestV2JSONKeysSurviveRefill(t *testing.T) {
	var body bytes.Buffer
	v2Page(&body, "null", 30, 5, 0)
	want := decodeAll(t, body.Bytes(), "v2")

	d, err := openV2JSON(iotest.OneByteReader(bytes.NewReader(body.Bytes())), spx.Greeks, "mem")
	if err != nil {
		t.Fatal(err)
	}
	var r spx.Row
	got := 0
	for {
		ok, err := d.next(&r)
		if err != nil {
			t.Fatalf("row %d: %v", got, err)
		}
		if !ok {
			break
		}
		got++
	}
	if got != want || got != 150 {
		t.Fatalf("decoded %d rows one byte at a time, %d in one piece; want 150", got, want)
	}
}
