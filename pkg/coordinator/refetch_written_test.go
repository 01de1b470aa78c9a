package coordinator

import (
	"context"
	"testing"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// After a crash a write job can be delivered twice: the first delivery
// writes the file and consumes the staged object, the second finds it gone
// and asks for a refetch. The job stays written and is not queued again.
func TestRefetchOfAWrittenJobIsIgnored(t *testing.T) {
	nc, js, st := queueAndStore(t)
	ctx := context.Background()
	s := New(nc, js, st, nil, &fakeManifests{files: map[string][]ManifestFile{}}, Config{MaxRefetch: 2})
	k := key("SPXW", 3)
	if err := st.PutJobs(ctx, []spx.JobRecord{{Key: k, Outcome: spx.JobStaged, Generation: 1}}); err != nil {
		t.Fatal(err)
	}
	written := event(spxv1.EventKind_EVENT_KIND_WRITTEN, k, 1)
	written.Rows, written.File = 10, k.RelPath()
	refetch := event(spxv1.EventKind_EVENT_KIND_REFETCH, k, 1)
	refetch.ErrorMessage = "staged object not found (deleted or expired)"
	for _, ev := range []*spxv1.Event{written, refetch} {
		if err := s.HandleEvent(ctx, k, ev); err != nil {
			t.Fatal(err)
		}
	}
	rec, _, _ := st.Job(ctx, k)
	if rec.Outcome != spx.JobWritten || rec.Generation != 1 || rec.Rows != 10 {
		t.Errorf("job %s generation %d rows %d, want written generation 1 rows 10", rec.Outcome, rec.Generation, rec.Rows)
	}
	stream, err := js.Stream(ctx, queue.StreamFetch)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := stream.Info(ctx); info.State.Msgs != 0 {
		t.Errorf("%d fetch jobs queued, want none", info.State.Msgs)
	}
}
