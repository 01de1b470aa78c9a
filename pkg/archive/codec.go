package archive

import (
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdPageCodec replaces arrow-go's zstd codec for encoding. Parquet pages
// are at most about a megabyte, so a 1 MiB window loses nothing (measured:
// the same size to a few bytes, the same CPU), while the default 8 MiB
// window made the pooled encoders hold about 48 MiB of history: peak RSS
// of a 4M-row conversion went from 400 to 220 MiB. Decoding is arrow-go's.
type zstdPageCodec struct {
	compress.Codec // arrow-go's, for Decode and CompressBound
	pool           sync.Pool
}

func (c *zstdPageCodec) Encode(dst, src []byte) []byte {
	return c.EncodeLevel(dst, src, zstdLevel)
}

func (c *zstdPageCodec) EncodeLevel(dst, src []byte, _ int) []byte {
	enc, _ := c.pool.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(zstdLevel)),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true),
			zstd.WithAllLitEntropyCompression(true), zstd.WithLowerEncoderMem(true))
		if err != nil {
			// Only invalid options fail, and these are constant.
			panic(err)
		}
	}
	out := enc.EncodeAll(src, dst[:0])
	c.pool.Put(enc)
	return out
}

// NewReader, NewWriter and NewWriterLevel are arrow-go's (page readers
// stream through them).
func (c *zstdPageCodec) NewReader(r io.Reader) io.ReadCloser {
	return c.Codec.(compress.StreamingCodec).NewReader(r)
}

func (c *zstdPageCodec) NewWriter(w io.Writer) io.WriteCloser {
	return c.Codec.(compress.StreamingCodec).NewWriter(w)
}

func (c *zstdPageCodec) NewWriterLevel(w io.Writer, level int) (io.WriteCloser, error) {
	return c.Codec.(compress.StreamingCodec).NewWriterLevel(w, level)
}

func (c *zstdPageCodec) DecodeWithError(dst, src []byte) ([]byte, error) {
	if ec, ok := c.Codec.(compress.ErrorCodec); ok {
		return ec.DecodeWithError(dst, src)
	}
	return c.Codec.Decode(dst, src), nil
}

// registerCodec installs zstdPageCodec once, before this package first
// writes or reads Parquet. arrow-go keeps codecs in a process-wide table
// (meant to be set from init, which this code base does not use); nothing
// else in spx reads Parquet outside this package.
var registerCodec = sync.OnceFunc(func() {
	orig, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return
	}
	if _, ok := orig.(compress.StreamingCodec); !ok {
		return
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdPageCodec{Codec: orig})
})
