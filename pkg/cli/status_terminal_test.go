package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// spx status says what the coordinator knows of the terminal, and what
// waits for it.
func TestStatusTerminalLine(t *testing.T) {
	since := time.Now().Add(-time.Minute)
	for _, tt := range []struct {
		st   spx.TerminalStatus
		want []string
		not  string
	}{
		{spx.TerminalStatus{State: spx.TerminalUp, API: "v3", URL: "http://127.0.0.1:25503", Since: since},
			[]string{"terminal", "up (v3 at http://127.0.0.1:25503) since"}, "wait"},
		{spx.TerminalStatus{State: spx.TerminalDown, LastError: "connection refused", Since: since},
			[]string{"down since", "planning and fetching wait for it; last error: connection refused"}, ""},
		{spx.TerminalStatus{State: spx.TerminalDisconnected, API: "v2", URL: "http://127.0.0.1:25510", Mdds: "DISCONNECTED",
			LastError: "mdds status DISCONNECTED: the terminal lost its connection to ThetaData"},
			[]string{"disconnected (v2 at http://127.0.0.1:25510)", "lost its connection"}, ""},
	} {
		var buf bytes.Buffer
		if err := renderStatus(&buf, formatTable, statusReport{Terminal: &tt.st}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: no %q in\n%s", tt.st.State, w, out)
			}
		}
		if tt.not != "" && strings.Contains(out, tt.not) {
			t.Errorf("%s: %q in\n%s", tt.st.State, tt.not, out)
		}
	}
}

// spx status says when the NATS store is full, why, and what waits for it;
// with room, how much staging holds.
func TestStatusNATSStoreLine(t *testing.T) {
	since := time.Now().Add(-4 * time.Minute)
	for _, tt := range []struct {
		st   spx.NATSStore
		want []string
		not  string
	}{
		{spx.NATSStore{Full: true, Since: since, Reason: "only 1.0 MiB free on the disk of nats.store_dir (8.0 MiB kept free)",
			Staged: 11 << 20, StagedLimit: 11 << 20, Used: 12 << 20, Limit: 15 << 20, DiskFree: 1 << 20},
			[]string{"nats store", "FULL since", "only 1.0 MiB free on the disk of nats.store_dir", "staged 11.0 MiB of 11.0 MiB",
				"store 12.0 MiB of 15.0 MiB, 1.0 MiB free on its disk", "fetchers take no job until writers make room or space is freed"}, ""},
		{spx.NATSStore{Staged: 2 << 20, StagedLimit: 11 << 20}, []string{"nats store", "ok: staged 2.0 MiB of 11.0 MiB"}, "FULL"},
	} {
		var buf bytes.Buffer
		if err := renderStatus(&buf, formatTable, statusReport{NATSStore: &tt.st}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("no %q in\n%s", w, out)
			}
		}
		if tt.not != "" && strings.Contains(out, tt.not) {
			t.Errorf("%q in\n%s", tt.not, out)
		}
	}
}
