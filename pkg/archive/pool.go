package archive

import (
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bufPool recycles the buffers of decode batches during one conversion:
// every batch needs the same few buffer sizes, and fresh memory from the Go
// allocator is zeroed and later collected, which showed up as a tenth of
// the CPU time and much of the heap. Buffers come back dirty; batches
// overwrite every byte they use (bitmaps are cleared explicitly).
// drain hands everything back to the base allocator.
type bufPool struct {
	base memory.Allocator
	mu   sync.Mutex
	free map[int][][]byte
}

var _ memory.Allocator = (*bufPool)(nil)

func newBufPool(base memory.Allocator) *bufPool {
	return &bufPool{base: base, free: map[int][][]byte{}}
}

func (p *bufPool) Allocate(size int) []byte {
	p.mu.Lock()
	if l := p.free[size]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[size] = l[:len(l)-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return p.base.Allocate(size)
}

func (p *bufPool) Reallocate(size int, b []byte) []byte { return p.base.Reallocate(size, b) }

func (p *bufPool) Free(b []byte) {
	p.mu.Lock()
	p.free[len(b)] = append(p.free[len(b)], b)
	p.mu.Unlock()
}

// drain returns every pooled buffer to the base allocator.
func (p *bufPool) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for size, l := range p.free {
		for _, b := range l {
			p.base.Free(b)
		}
		delete(p.free, size)
	}
}
