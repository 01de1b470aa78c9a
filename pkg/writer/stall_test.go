package writer

import (
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// blockReader blocks every Read until release is closed.
type blockReader struct{ release chan struct{} }

func (b blockReader) Read(p []byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

// A Read that waits past the stall timeout is reported; time spent between
// reads (a busy converter) is not.
func TestStallWatch(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var fired atomic.Bool
	sw := &stallWatch{r: blockReader{release}}
	stop := sw.watch(80*time.Millisecond, func() { fired.Store(true) })
	defer stop()
	go sw.Read(make([]byte, 1))
	deadline := time.Now().Add(5 * time.Second)
	for !fired.Load() {
		if time.Now().After(deadline) {
			t.Fatal("a Read blocked for 5 s was not reported as stalled")
		}
		time.Sleep(10 * time.Millisecond)
	}

	var idleFired atomic.Bool
	idle := &stallWatch{r: eofReader{}}
	stopIdle := idle.watch(40*time.Millisecond, func() { idleFired.Store(true) })
	for range 3 {
		idle.Read(make([]byte, 1))
		time.Sleep(100 * time.Millisecond) // the consumer is busy, not the source
	}
	stopIdle()
	stopIdle() // safe twice
	if idleFired.Load() {
		t.Fatal("pauses between reads were taken for a stall")
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
