package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/spx"
)

// Subjects returns the job subjects that hold a message in a work stream
// (SPX_FETCH or SPX_WRITE): waiting, or delivered and not yet acked.
func Subjects(ctx context.Context, js jetstream.JetStream, stream string) (map[string]bool, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return nil, fmt.Errorf("listing the subjects of %s: %w", stream, err)
	}
	out := make(map[string]bool, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		if n > 0 {
			out[subj] = true
		}
	}
	return out, nil
}

// JobMessage returns the generation of the message on a job's subject in a
// work stream; ok is false when the subject holds none. In SPX_FETCH a job
// without a message of its own may be an entry of its day's chain fetch
// (queue.PublishChain): then that entry's generation is returned, or the
// newer of the two when both subjects carry it.
func JobMessage(ctx context.Context, js jetstream.JetStream, stream string, key spx.JobKey) (generation int, ok bool, err error) {
	return jobMessage(ctx, js, stream, key, true)
}

// OwnFetchMessage is JobMessage on SPX_FETCH without the chain fetch: the
// generation of the message on the job's own subject.
func OwnFetchMessage(ctx context.Context, js jetstream.JetStream, key spx.JobKey) (generation int, ok bool, err error) {
	return jobMessage(ctx, js, StreamFetch, key, false)
}

func jobMessage(ctx context.Context, js jetstream.JetStream, stream string, key spx.JobKey, chain bool) (generation int, ok bool, err error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, false, fmt.Errorf("opening stream %s: %w", stream, err)
	}
	if stream == StreamWrite {
		raw, ok, err := lastMsg(ctx, s, key.WriteSubject())
		if !ok || err != nil {
			return 0, false, err
		}
		job, _, err := DecodeWriteJob(raw.Data)
		if err != nil {
			return 0, true, err
		}
		return int(job.GetGeneration()), true, nil
	}
	// Both subjects may carry the job (a chain waiting, and the job split
	// off or requeued on its own): the newer generation counts.
	found := false
	subjects := []string{key.FetchSubject()}
	if chain {
		subjects = append(subjects, key.ChainKey().FetchSubject())
	}
	for _, subj := range subjects {
		raw, ok, err := lastMsg(ctx, s, subj)
		if err != nil {
			return 0, false, err
		}
		if !ok {
			continue
		}
		job, k, err := DecodeFetchJob(raw.Data)
		if err != nil {
			return 0, true, err
		}
		jobs, err := ChainJobs(job, k)
		if err != nil {
			return 0, true, err
		}
		for _, j := range jobs {
			if j.Key == key && (!found || j.Generation > generation) {
				generation, found = j.Generation, true
			}
		}
	}
	return generation, found, nil
}

func lastMsg(ctx context.Context, s jetstream.Stream, subj string) (*jetstream.RawStreamMsg, bool, error) {
	raw, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", subj, err)
	}
	return raw, true, nil
}

// EventsApplied waits until the coordinator's consumer has acked every event
// stored on SPX_EVENTS when it was called (what workers reported before
// then is in the status store), or ctx ends.
func EventsApplied(ctx context.Context, js jetstream.JetStream) error {
	s, err := js.Stream(ctx, StreamEvents)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", StreamEvents, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", StreamEvents, err)
	}
	last := info.State.LastSeq
	cons, err := s.Consumer(ctx, ConsumerCoordinator)
	if err != nil {
		return fmt.Errorf("opening consumer %s: %w", ConsumerCoordinator, err)
	}
	for {
		ci, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("reading consumer %s: %w", ConsumerCoordinator, err)
		}
		if ci.AckFloor.Stream >= last || ci.NumPending == 0 && ci.NumAckPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
