package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// Reopener is an input that can be read again from its start, like a
// staging object still in the object store. Convert streams such an input
// without keeping a spill copy of it (the copy cost as much disk I/O as the
// input is large, for every file) and reopens it only if it turns out not
// to be in output order.
type Reopener interface {
	Reopen(ctx context.Context) (io.Reader, error)
}

// streamSource serves the streaming path's positional reads straight from
// a stream. Those reads move forward and re-read only the partial last
// line of the previous read, so that tail is all it keeps; the first read
// (pipeline's line-length sample at offset 0) is kept whole, since
// reading starts over from 0 after it.
type streamSource struct {
	mu      sync.Mutex
	in      io.Reader
	base    int64  // input offset of tail[0]
	tail    []byte // bytes that may be read again
	done    bool
	sampled bool
}

func (s *streamSource) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.base + int64(len(s.tail))
	if off < s.base || off > end {
		return 0, fmt.Errorf("streamed input read at byte %d, outside the kept %d..%d (a bug in spx: report it)", off, s.base, end)
	}
	total := copy(p, s.tail[off-s.base:])
	for total < len(p) && !s.done {
		k, err := s.in.Read(p[total:])
		total += k
		if err == io.EOF {
			s.done = true
		} else if err != nil {
			return total, fmt.Errorf("reading input: %w", err)
		}
	}
	next := off + int64(bytes.LastIndexByte(p[:total], '\n')+1)
	if !s.sampled {
		s.sampled, next = true, off
	}
	if off+int64(total) <= end {
		s.tail = s.tail[next-s.base:] // served from the tail alone
	} else {
		s.tail = append(s.tail[:0], p[next-off:total]...) // p holds all of off..off+total
	}
	s.base = next
	if total < len(p) {
		return total, io.EOF
	}
	return total, nil
}
