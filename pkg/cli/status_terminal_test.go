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
