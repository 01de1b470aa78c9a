package terminalsim

import (
	"context"
	"errors"
	"sync"
)

var errQueueFull = errors.New("request queue full")

// limiter is the terminal's concurrency limit: limit requests at once,
// up to queue more waiting in FIFO order, the rest refused.
type limiter struct {
	limit, queue int

	mu      sync.Mutex
	active  int
	maxSeen int
	waiting []chan struct{}
}

// acquire takes a slot, waiting in line if needed. It fails with
// errQueueFull when the line is full, or with ctx's error.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	l.mu.Lock()
	if l.active < l.limit && len(l.waiting) == 0 {
		l.active++
		l.maxSeen = max(l.maxSeen, l.active)
		l.mu.Unlock()
		return l.release, nil
	}
	if len(l.waiting) >= l.queue {
		l.mu.Unlock()
		return nil, errQueueFull
	}
	ch := make(chan struct{})
	l.waiting = append(l.waiting, ch)
	l.mu.Unlock()
	select {
	case <-ch: // the slot was handed over by release
		return l.release, nil
	case <-ctx.Done():
		l.mu.Lock()
		for i, c := range l.waiting {
			if c == ch {
				l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
				l.mu.Unlock()
				return nil, ctx.Err()
			}
		}
		l.mu.Unlock()
		// Granted while giving up: pass the slot on.
		l.release()
		return nil, ctx.Err()
	}
}

func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiting) > 0 {
		ch := l.waiting[0]
		l.waiting = l.waiting[1:]
		close(ch) // the slot moves to the next in line; active is unchanged
		return
	}
	l.active--
}

func (l *limiter) snapshot() (maxSeen, active, queued int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxSeen, l.active, len(l.waiting)
}
