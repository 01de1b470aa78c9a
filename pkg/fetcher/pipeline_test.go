package fetcher

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/spx-archive/spx/pkg/queue"
)

func TestSinkHashesAndCompressesInOrder(t *testing.T) {
	for _, tc := range []struct {
		codec string
		n     int
	}{{"s2", 0}, {"s2", 1}, {"s2", blockSize - 1}, {"s2", blockSize}, {"s2", 5*blockSize + 123}, {"zstd", 0}, {"zstd", 5*blockSize + 123}} {
		n := tc.n
		t.Run(fmt.Sprint(tc.codec, n), func(t *testing.T) {
			t.Setenv("SPX_TEST_STAGING_CODEC", tc.codec)
			want := make([]byte, n)
			for i := range want {
				want[i] = byte('a' + i*7%26)
				if i%97 == 0 {
					want[i] = '\n'
				}
			}
			var zbuf bytes.Buffer
			s, err := newSink(context.Background(), &zbuf)
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := s.next()
			for i := 0; i < n; i += 1000 { // lines of up to 1000 bytes, like AppendNDJSON
				blk.b = append(blk.b, want[i:min(i+1000, n)]...)
				if len(blk.b) >= blockSize {
					s.send(blk)
					if blk, err = s.next(); err != nil {
						t.Fatal(err)
					}
				}
			}
			s.send(blk)
			sum, err := s.finish()
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(want)
			if sum != hex.EncodeToString(h[:]) {
				t.Errorf("sha256 %s, want %x", sum, h)
			}
			zr, done, err := queue.OpenStaged(&zbuf)
			if err != nil {
				t.Fatal(err)
			}
			defer done()
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decompressed %d bytes differ from the %d sent", len(got), len(want))
			}
		})
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestSinkStopsTheProducerWhenCompressingFails(t *testing.T) {
	boom := errors.New("object store gone")
	s, err := newSink(context.Background(), failWriter{boom})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := s.next()
	// Keep producing until the sink refuses: a failed write must surface,
	// not block the producer forever.
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("producer never told about the failed writer")
		}
		blk.b = append(blk.b, bytes.Repeat([]byte("x"), blockSize)...)
		s.send(blk)
		if blk, err = s.next(); err != nil {
			break
		}
	}
	if !errors.Is(err, boom) {
		t.Errorf("next() = %v, want the writer's error", err)
	}
	if _, err := s.finish(); !errors.Is(err, boom) {
		t.Errorf("finish() = %v, want the writer's error", err)
	}
}

func TestSinkAbortReturnsPromptly(t *testing.T) {
	s, err := newSink(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := s.next()
	blk.b = append(blk.b, "row\n"...)
	s.send(blk)
	s.abort()
	s.abort() // twice is harmless
	if _, err := s.next(); err == nil {
		t.Error("next() after abort succeeded")
	}
}
