package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// regionJS finds the parts of the page headed by a heading that begins
// with the text given as %s: for each such h1-h3, the innerText of its
// card, section or header, i.e. the words a person reads there once the
// page's scripts ran (hidden elements contribute nothing).
const regionJS = `(() => {
  const want = %s;
  return [...document.querySelectorAll("h1, h2, h3")]
    .filter((h) => h.innerText.trim().startsWith(want))
    .map((h) => (h.closest(".card, section, header") || h.parentElement).innerText);
})()`

// RegionText returns what a person reads in the card, section or header
// headed heading ("Terminal", "Recent errors", "spx archive" for the
// page's header). It fails the test unless exactly one region has that
// heading.
func RegionText(t *testing.T, ctx context.Context, heading string) string {
	t.Helper()
	texts, err := regions(ctx, heading)
	if err != nil {
		t.Fatalf("reading the region %q: %v", heading, err)
	}
	if len(texts) != 1 {
		t.Fatalf("the page has %d regions headed %q, want 1: %q", len(texts), heading, texts)
	}
	return texts[0]
}

func regions(ctx context.Context, heading string) ([]string, error) {
	q, _ := json.Marshal(heading)
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(regionJS, q)))
}

// WaitRegionText waits up to timeout until the region headed heading reads
// every one of want (the page updates itself from a live stream), and
// returns its text. It fails the test with what the region said last.
func WaitRegionText(t *testing.T, ctx context.Context, heading string, timeout time.Duration, want ...string) string {
	t.Helper()
	var last []string
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		texts, err := regions(ctx, heading)
		if err != nil {
			t.Fatalf("reading the region %q: %v", heading, err)
		}
		last = texts
		if len(texts) == 1 && containsAll(texts[0], want) {
			return texts[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the region %q reads %q, want one region saying all of %q", timeout, heading, last, want)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// DuplicateIDs returns the ids that more than one element of the page
// carries, after the page's scripts ran.
func DuplicateIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	dups, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
  const seen = new Map();
  for (const e of document.querySelectorAll("[id]")) seen.set(e.id, (seen.get(e.id) || 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
})()`))
	if err != nil {
		t.Fatalf("reading the page's ids: %v", err)
	}
	return dups
}

// PixelsNear counts the pixels of a screenshot of the first element matching
// css whose colour is within tol (per channel) of rgb: whether a line of that
// colour is drawn where a person can see it, not hidden under another.
func PixelsNear(t *testing.T, ctx context.Context, css string, rgb [3]uint8, tol int) int {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("taking a screenshot of %s: %v", css, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the screenshot of %s: %v", css, err)
	}
	near := func(v uint32, c uint8) bool { d := int(v>>8) - int(c); return d <= tol && d >= -tol }
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, rgb[0]) && near(cg, rgb[1]) && near(cb, rgb[2]) {
				n++
			}
		}
	}
	return n
}
