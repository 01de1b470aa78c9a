package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestStatusWatch refreshes until interrupted: several tables, or one JSON
// object per refresh; with no NATS reachable it says so instead of failing.
func TestStatusWatch(t *testing.T) {
	db := storeSeededDB(t)
	t.Setenv("SPX_NATS_LISTEN", "127.0.0.1:1") // nothing listens there
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			defer cancel()
			var out, errb bytes.Buffer
			if code := Main(ctx, []string{"--db", db, "status", "--watch=100ms", "--format", format}, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			switch format {
			case "table":
				if n := strings.Count(out.String(), "spx status at"); n < 2 {
					t.Errorf("%d refreshes, want 2 or more:\n%s", n, out.String())
				}
				if !strings.Contains(out.String(), "no NATS server reachable") {
					t.Errorf("no word about the missing cluster:\n%s", out.String())
				}
			case "json":
				dec := json.NewDecoder(&out)
				n := 0
				for dec.More() {
					var st statusOutput
					if err := dec.Decode(&st); err != nil {
						t.Fatalf("object %d: %v", n, err)
					}
					if st.DaysTotal == 0 || st.NATS != "" || len(st.Queues) != 0 {
						t.Errorf("object %d: %+v", n, st)
					}
					n++
				}
				if n < 2 {
					t.Errorf("%d JSON objects, want 2 or more", n)
				}
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"--db", db, "status", "--watch=0s"}, &out, &errb); code != 2 {
		t.Errorf("--watch=0s: exit %d, want 2", code)
	}
}
