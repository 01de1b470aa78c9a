package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// reopenable is a stream that can be read again, like a staging object.
type reopenable struct {
	io.Reader
	data    []byte
	reopens int
	fail    error
}

func (r *reopenable) Reopen(context.Context) (io.Reader, error) {
	r.reopens++
	if r.fail != nil {
		return nil, r.fail
	}
	return onlyReader{bytes.NewReader(r.data)}, nil
}

func TestStreamSourceServesForwardReads(t *testing.T) {
	var in []byte
	for i := range 5000 {
		in = append(in, bytes.Repeat([]byte{'a' + byte(i%26)}, i%97)...)
		in = append(in, '\n')
	}
	in = append(in, "no newline at the end"...)
	for _, seed := range []uint64{1, 2, 3} {
		r := rand.New(rand.NewPCG(seed, 7))
		s := &streamSource{in: onlyReader{bytes.NewReader(in)}}
		var got []byte
		var pos int64
		for {
			p := make([]byte, 1+r.IntN(3000))
			k, err := s.ReadAt(p, pos)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(p[:k], in[pos:pos+int64(k)]) {
				t.Fatalf("seed %d: bytes at %d differ", seed, pos)
			}
			// Like produce: keep whole lines, read the partial one again.
			keep := k
			if err == nil {
				if nl := bytes.LastIndexByte(p[:k], '\n'); nl >= 0 {
					keep = nl + 1
				} else {
					continue // line longer than this read: read more of it
				}
			}
			got = append(got, p[:keep]...)
			pos += int64(keep)
			if err == io.EOF {
				break
			}
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("seed %d: reassembled %d bytes, want %d", seed, len(got), len(in))
		}
	}
	s := &streamSource{in: onlyReader{bytes.NewReader(in)}}
	if _, err := s.ReadAt(make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAt(make([]byte, 10), 5000); err == nil {
		t.Error("a read past what was served succeeded")
	}
}

func TestReopenerStreamsSortedInputAndReopensUnsorted(t *testing.T) {
	rows := genGreeks("SPXW", spx.NewDate(2024, 3, 15), spx.NewDate(2024, 3, 15), 12, 391, 4)
	o := Options{BatchRows: 700, RowGroupRows: 3000, TempDir: t.TempDir(), dataPageSize: 8 << 10, noSync: true}
	_, ref := convertFile(t, ndjson(rows), o)
	tests := []struct {
		mode    string
		reopens int
	}{
		{"sorted", 0},
		{"blocks", 1},
		{"reversed", 1},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			in := ndjson(shuffled(rows, tc.mode, 9))
			r := &reopenable{Reader: onlyReader{bytes.NewReader(in)}, data: in}
			out := filepath.Join(t.TempDir(), "out.parquet")
			fi, err := WriteFile(context.Background(), spx.Greeks, r, out, o)
			if err != nil {
				t.Fatal(err)
			}
			if fi.SHA256 != ref.SHA256 || fi.Rows != int64(len(rows)) {
				t.Errorf("rows %d sha %s, want %d and the sorted input's %s", fi.Rows, fi.SHA256, len(rows), ref.SHA256)
			}
			if r.reopens != tc.reopens {
				t.Errorf("reopened %d times, want %d", r.reopens, tc.reopens)
			}
		})
	}
	if left, _ := filepath.Glob(filepath.Join(o.TempDir, "*")); len(left) != 0 {
		t.Fatalf("spill files left behind: %v", left)
	}

	boom := errors.New("object gone")
	in := ndjson(shuffled(rows, "reversed", 9))
	r := &reopenable{Reader: onlyReader{bytes.NewReader(in)}, data: in, fail: boom}
	out := filepath.Join(t.TempDir(), "out.parquet")
	if _, err := WriteFile(context.Background(), spx.Greeks, r, out, o); !errors.Is(err, boom) {
		t.Errorf("WriteFile = %v, want the reopen error", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a file was left at %s after a failed reopen", out)
	}
}
