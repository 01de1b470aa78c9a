package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFlagsValidated: a log level or format spx does not know is a usage
// error naming the valid values, before the command does anything.
func TestLogFlagsValidated(t *testing.T) {
	for _, tt := range []struct {
		flag, value, want string
	}{
		{"--log-level", "loud", `invalid --log-level "loud": use debug, info, warn or error`},
		{"--log-format", "xml", `invalid --log-format "xml": use text or json`},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			dir := t.TempDir()
			code, stdout, stderr := storeRunSPX(t, tt.flag, tt.value, "--db", filepath.Join(dir, "spx.db"),
				"--output-dir", filepath.Join(dir, "out"), "process", "2024-03-04")
			if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and one line %q", code, stdout, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("created %v", entries)
			}
		})
	}
	for _, ok := range [][]string{{"--log-level", "DEBUG"}, {"--log-level", "warn"}, {"--log-format", "json"}} {
		if code, _, stderr := storeRunSPX(t, append(ok, "calendar", "--from", "2024-03-04", "--to", "2024-03-04")...); code != 0 {
			t.Errorf("%v: exit %d: %s", ok, code, stderr)
		}
	}
}
