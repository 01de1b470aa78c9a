package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnknownCodec is a staged object that is neither zstd nor s2.
var ErrUnknownCodec = errors.New("neither zstd nor s2: it was not staged by an spx fetcher")

// OpenStaged decompresses the staged object stream in r with the codec its first bytes
// name: zstd (magic 28 B5 2F FD) or s2 (stream identifier FF 06 00 00
// "S2sTwO", or snappy's "sNaPpY", which s2 also reads). The fetcher picks
// the codec (s2 today); writers read either. The func releases the
// decoder.
func OpenStaged(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(10)
	if err == io.EOF && len(head) == 0 {
		// s2 writes nothing for an empty stream; the object store's own
		// digest has already ruled out a cut object.
		return br, func() {}, nil
	}
	if err != nil && len(head) < 4 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if errors.Is(err, jetstream.ErrDigestMismatch) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("%w (%v)", ErrUnknownCodec, err)
		}
		return nil, nil, err
	}
	switch {
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, fmt.Errorf("starting zstd: %w", err)
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(head, []byte("\xff\x06\x00\x00S2sTwO")), bytes.HasPrefix(head, []byte("\xff\x06\x00\x00sNaPpY")):
		return s2.NewReader(br, s2.ReaderMaxBlockSize(4<<20)), func() {}, nil
	}
	return nil, nil, fmt.Errorf("%w: it starts % x", ErrUnknownCodec, head[:min(len(head), 10)])
}
