package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// A writer's refetch event queues the fetch again with the next generation,
// until MaxRefetch is spent; then the job fails with a clear message.
func TestRefetchRequeuesWithNewGeneration(t *testing.T) {
	nc, js, st := queueAndStore(t)
	ctx := context.Background()
	s := New(nc, js, st, nil, &fakeManifests{files: map[string][]ManifestFile{}}, Config{MaxRefetch: 2})
	k := key("SPXW", 3)
	if err := st.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: spx.JobStaged, Generation: 1}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, queue.StreamFetch, queue.ConsumerFetchers)
	if err != nil {
		t.Fatal(err)
	}
	for gen := int32(1); gen <= 3; gen++ {
		ev := event(spxv1.EventKind_EVENT_KIND_REFETCH, k, gen)
		ev.ErrorMessage = "NDJSON SHA-256 mismatch"
		if err := s.HandleEvent(ctx, k, ev); err != nil {
			t.Fatal(err)
		}
		rec, _, _ := st.Job(ctx, k)
		if gen == 3 {
			if rec.Outcome != spx.JobFailed || rec.LastError == "" {
				t.Fatalf("after %d refetches: %s %q, want failed", gen, rec.Outcome, rec.LastError)
			}
			break
		}
		if rec.Outcome != spx.JobQueued || rec.Generation != int(gen)+1 {
			t.Fatalf("after refetch: %s generation %d", rec.Outcome, rec.Generation)
		}
		msg, err := cons.Next(jetstreamWait(2 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		job, got, err := queue.DecodeFetchJob(msg.Data())
		if err != nil || got != k || job.GetGeneration() != gen+1 {
			t.Fatalf("queued %v generation %d (%v), want %v generation %d", got, job.GetGeneration(), err, k, gen+1)
		}
		_ = msg.Ack()
	}
	errs, _ := st.Errors(ctx, 0)
	if len(errs) < 2 {
		t.Errorf("error log has %d entries, want one per refetch", len(errs))
	}
}

func jetstreamWait(d time.Duration) jetstream.FetchOpt { return jetstream.FetchMaxWait(d) }
