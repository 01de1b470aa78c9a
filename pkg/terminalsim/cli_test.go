package terminalsim_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
	"github.com/spx-archive/spx/pkg/cli"
)

func TestSimTerminalCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"sim-terminal", "--v3-addr", "127.0.0.1:0", "--v2-addr", "127.0.0.1:0",
			"--seed", "3", "--max-expirations", "1", "--max-strikes", "2", "--fault-rate", "474=0",
			"--first-byte-delay", "1ms", "--bytes-per-sec", "100000000", "--json-shape", "columnar"}, io.Discard, &stderr)
	}()
	re := regexp.MustCompile(`v3=(http://127\.0\.0\.1:\d+) v2=(http://127\.0\.0\.1:\d+)`)
	var m []string
	deadline := time.Now().Add(10 * time.Second)
	for m = re.FindStringSubmatch(stderr.String()); m == nil; m = re.FindStringSubmatch(stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no listening log line: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, u := range []string{m[1] + "/v3/terminal/mdds/status", m[2] + "/v2/system/mdds/status"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "CONNECTED" {
			t.Fatalf("%s: %q", u, b)
		}
	}
	resp, err := http.Get(m[1] + "/v3/option/list/expirations?symbol=SPXW&format=json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.HasPrefix(b, []byte(`{"symbol":["SPXW"`)) {
		t.Fatalf("--json-shape columnar: %.100s", b)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim-terminal did not stop when its context ended")
	}
}

func TestSimTerminalUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"sim-terminal", "--tier", "gold"},
		{"sim-terminal", "--fault-rate", "474"},
		{"sim-terminal", "--reset-rate", "2"},
		{"sim-terminal", "--v3-addr", "", "--v2-addr", ""},
		{"sim-terminal", "extra"},
		{"sim-terminal", "--json-shape", "rows"},
		{"sim-terminal", "--bytes-per-sec", "-1"},
	} {
		var stderr bytes.Buffer
		if code := cli.Main(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit code %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}
