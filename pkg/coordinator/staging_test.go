package coordinator

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// While the coordinator runs (not only at its start), the staged object of
// a job recorded written and the chunks of a put cut short are removed
// before long: a delete that failed (a full store, NATS away) no longer
// leaves them in the bucket until its TTL, days later.
func TestStagingSweepWhileRunning(t *testing.T) {
	nc, js, st := queueAndStore(t)
	s := New(nc, js, st, nil, &fakeManifests{files: map[string][]ManifestFile{}},
		Config{Roots: []string{"SPXW"}, StagingSweep: 200 * time.Millisecond, OrphanAge: 300 * time.Millisecond, Topology: queue.Topology{Memory: true}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past the start's reconcile
	written, inFlight := key("SPXW", 10), key("SPXW", 11)
	if err := st.PutJobs(ctx, []spx.JobRecord{{Key: written, Outcome: spx.JobWritten, Generation: 1},
		{Key: inFlight, Outcome: spx.JobStaged, Generation: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []spx.JobKey{written, inFlight} {
		if _, err := store.Put(ctx, jetstream.ObjectMeta{Name: k.ObjectName()}, bytes.NewReader([]byte("rows"))); err != nil {
			t.Fatal(err)
		}
	}
	cut := "$O." + queue.Bucket + ".C.CUTSHORT"
	if _, err := js.Publish(ctx, cut, []byte("partial")); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, queue.StagingStream)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, objErr := store.GetInfo(ctx, written.ObjectName())
		_, cutErr := stream.GetLastMsgForSubject(ctx, cut)
		if errors.Is(objErr, jetstream.ErrObjectNotFound) && errors.Is(cutErr, jetstream.ErrMsgNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweep left the written job's object (%v) or the cut put's chunks (%v)", objErr, cutErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := store.GetInfo(ctx, inFlight.ObjectName()); err != nil {
		t.Errorf("the object of a job still staged was removed: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
