package faults

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Scenario 9a: a corrupt status database: every command that opens it
// fails with a clear message, and the file is never overwritten.
func TestCorruptDatabase(t *testing.T) {
	c := newCluster(t, clusterOptions{})
	coord := c.coordinator()
	c.fetcher(2)
	c.writer(1)
	if out, code := c.process("2024-03-04", "2024-03-04", 2*time.Minute); code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	coord.stop(t)
	real, err := os.ReadFile(c.db)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("not a bbolt page "), 4096)
	damaged := append([]byte(nil), real...)
	copy(damaged[4096*2:], garbage[:4096*2]) // meta pages kept, tree pages overwritten
	cases := map[string][]byte{"garbage": garbage, "damaged-pages": damaged, "truncated": real[:len(real)/3]}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "spx.db")
			if err := os.WriteFile(db, content, 0o600); err != nil {
				t.Fatal(err)
			}
			sum := fileSum(t, db)
			for _, args := range [][]string{
				{"status", "--format", "json"},
				{"list", "--format", "json"},
				{"config", "set", "processing.roots", "SPX"},
				{"coordinator", "--listen", "127.0.0.1:0", "--monitor", "127.0.0.1:0", "--http="},
				{"verify"},
			} {
				out, code := c.cli(30*time.Second, append(args, "--db", db)...)
				low := strings.ToLower(out)
				if code != 1 || !strings.Contains(low, "corrupt") && !strings.Contains(low, "damaged") && !strings.Contains(low, "not an spx database") {
					t.Errorf("spx %s on a %s database: exit %d, want 1 saying it is corrupt:\n%s", args[0], name, code, out)
				} else {
					t.Logf("spx %s: %s", args[0], strings.TrimSpace(lastLine(out)))
				}
				if fileSum(t, db) != sum {
					t.Fatalf("spx %s changed the %s database file", args[0], name)
				}
			}
		})
	}
}

// Scenario 9b: the database locked by another process (a running
// coordinator): a second coordinator and the read-write commands fail with
// a clear message; the running one is unharmed.
func TestLockedDatabase(t *testing.T) {
	c := newCluster(t, clusterOptions{})
	coord := c.coordinator()
	for _, args := range [][]string{
		{"coordinator", "--listen", "127.0.0.1:0", "--monitor", "127.0.0.1:0", "--http="},
		{"config", "set", "processing.roots", "SPX"},
		{"status"},
	} {
		out, code := c.cli(30*time.Second, args...)
		if code != 1 || !strings.Contains(strings.ToLower(out), "locked") {
			t.Errorf("spx %s while the coordinator runs: exit %d, want 1 saying the database is locked:\n%s", args[0], code, out)
		} else {
			t.Logf("spx %s: %s", args[0], strings.TrimSpace(lastLine(out)))
		}
	}
	c.fetcher(2)
	c.writer(1)
	if out, code := c.process("2024-03-04", "2024-03-04", 2*time.Minute); code != 0 {
		t.Fatalf("process-range after the refused second coordinator: exit %d:\n%s", code, out)
	}
	coord.stop(t)
	c.check(twoDays[:1], false)
	out, code := c.cli(30*time.Second, "config", "get", "processing.roots", "--format", "json")
	if code != 0 || strings.Contains(out, `"stored"`) {
		t.Errorf("config get after a refused set: exit %d, %s (want the default, nothing stored)", code, out)
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
