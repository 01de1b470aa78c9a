package statusdb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// A file with damaged tree pages or cut short is ErrCorrupt (never a
// panic), for read-only and read-write opens, and is left unchanged.
func TestDamagedFileIsCorruptNotAPanic(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	st, err := Open(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutDay(context.Background(), spx.DayRecord{Date: spx.NewDate(2024, 1, 2), Status: spx.DaySuccess}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damaged := append([]byte(nil), raw...)
	copy(damaged[2*4096:], bytes.Repeat([]byte("junk"), 2*1024))
	for name, content := range map[string][]byte{"damaged": damaged, "truncated": raw[:len(raw)/3]} {
		for _, ro := range []bool{true, false} {
			path := filepath.Join(dir, name+".db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := Open(path, Options{ReadOnly: ro})
			if err == nil {
				st.Close()
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s (read-only %v): %v, want ErrCorrupt", name, ro, err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, content) {
				t.Errorf("%s (read-only %v): the file was changed", name, ro)
			}
		}
	}
}
