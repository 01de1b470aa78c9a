package writer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// blockReader blocks every Read until release is closed.
type blockReader struct{ release chan struct{} }

func (b blockReader) Read(p []byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

// slowReader hands out its data a byte at a time, pausing before each.
type slowReader struct {
	data  []byte
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.pause)
	p[0] = s.data[0]
	s.data = s.data[1:]
	return 1, nil
}

// A Read that waits past the stall timeout returns at once with the
// stall's error, and keeps returning it; reads that each finish in time
// pass their data through, however long the whole takes.
func TestStallWatch(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stallErr := errors.New("stalled")
	sw := &stallWatch{r: blockReader{release}, d: 80 * time.Millisecond, err: stallErr}
	start := time.Now()
	if _, err := sw.Read(make([]byte, 8)); err != stallErr {
		t.Fatalf("blocked read: %v, want the stall error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the stall was reported after %v", d)
	}
	if _, err := sw.Read(make([]byte, 8)); err != stallErr || !sw.isStalled() {
		t.Fatalf("read after a stall: %v", err)
	}

	slow := &stallWatch{r: &slowReader{data: []byte("hello"), pause: 30 * time.Millisecond}, d: 60 * time.Millisecond, err: stallErr}
	got, err := io.ReadAll(slow)
	if err != nil || string(got) != "hello" {
		t.Fatalf("slow but steady reads: %q, %v", got, err)
	}
}

// TestStuckObjectReadGivesUp reproduces a staged object whose chunks never
// arrive (what a consumer on a lost NATS node looks like to the writer):
// the read must end after the stall timeout, not the read deadline.
func TestStuckObjectReadGivesUp(t *testing.T) {
	_, _, js := queuetest.Start(t)
	ctx := context.Background()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 1, 2), Expiration: spx.NewDate(2024, 1, 3)}
	var buf bytes.Buffer
	w := s2.NewWriter(&buf)
	w.Write(bytes.Repeat([]byte(`["SPXW",20240103,4800,"C",20240102,34200000,1,2]`+"\n"), 1000))
	w.Close()
	info, err := store.Put(ctx, jetstream.ObjectMeta{Name: key.ObjectName()}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	// Take the chunks away: the object's consumer waits for data forever.
	st, err := js.Stream(ctx, "OBJ_"+queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject("$O."+queue.Bucket+".C."+info.NUID)); err != nil {
		t.Fatal(err)
	}
	in := &stagedInput{store: store, key: key, job: &spxv1.WriteJob{Object: key.ObjectName()}, timeout: time.Minute, stall: 300 * time.Millisecond}
	start := time.Now()
	err = in.open(ctx)
	if err == nil {
		_, err = io.ReadAll(in)
	}
	in.close()
	took := time.Since(start)
	var re *readError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "no data from the object store") {
		t.Fatalf("error %v, want the stall's read error", err)
	}
	if took > 10*time.Second {
		t.Fatalf("gave up after %v; the stall timeout is 300ms", took)
	}
}

// unansweredGet is an object store whose Get never hears back from the
// server (the consumer-create reply lost while the cluster replaces a node):
// it returns only when its context ends.
type unansweredGet struct {
	jetstream.ObjectStore
	ended chan error
}

func (u *unansweredGet) Get(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) (jetstream.ObjectResult, error) {
	<-ctx.Done()
	u.ended <- context.Cause(ctx)
	return nil, ctx.Err()
}

// TestUnansweredOpenGivesUp: a Get that waits for a reply that never comes
// ends after the stall timeout with a transient read error, and its
// consumer's context is cancelled, instead of holding the job until the
// whole read's deadline (the cluster test's hang after losing a node).
func TestUnansweredOpenGivesUp(t *testing.T) {
	_, _, js := queuetest.Start(t)
	ctx := context.Background()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	real, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 1, 2), Expiration: spx.NewDate(2024, 1, 3)}
	if _, err := real.PutBytes(ctx, key.ObjectName(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	store := &unansweredGet{ObjectStore: real, ended: make(chan error, 1)}
	in := &stagedInput{store: store, key: key, job: &spxv1.WriteJob{Object: key.ObjectName()}, timeout: time.Minute, stall: 300 * time.Millisecond}
	start := time.Now()
	err = in.open(ctx)
	took := time.Since(start)
	in.close()
	var re *readError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "did not answer opening") {
		t.Fatalf("error %v, want the unanswered open's read error", err)
	}
	if c := <-store.ended; c == nil || !strings.Contains(c.Error(), "did not answer opening") {
		t.Fatalf("the Get's context ended with %v, want the open's stall", c)
	}
	if took > 10*time.Second {
		t.Fatalf("gave up after %v; the stall timeout is 300ms", took)
	}
}
