package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

func (s *Service) handleEventMsg(ctx context.Context, msg jetstream.Msg) error {
	ev, key, err := queue.DecodeEvent(msg.Data())
	if err != nil {
		s.log.Error("dropping an unreadable event", "subject", msg.Subject(), "err", err)
		return nil
	}
	return s.HandleEvent(ctx, key, ev)
}

// HandleEvent records one worker event in the status store and updates the
// job's day. Events of an older generation than the job's are ignored.
func (s *Service) HandleEvent(ctx context.Context, key spx.JobKey, ev *spxv1.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	gen := int(ev.GetGeneration())
	var refetch, dayChanged bool
	_, err := s.store.UpdateJob(ctx, key, func(r *spx.JobRecord) error {
		if gen < r.Generation {
			return errStale
		}
		if r.Generation == 0 {
			r.Generation = gen
		}
		// A late progress event never undoes a final outcome of the same generation.
		final := r.Outcome.Terminal()
		r.UpdatedAt = now
		if d := int(ev.GetDelivery()); ev.GetStage() == "fetch" && d > r.Attempts {
			r.Attempts = d
		}
		if ev.GetErrorMessage() != "" {
			r.ErrorClass, r.LastError = spx.ErrorClass(ev.GetErrorClass()), ev.GetErrorMessage()
		}
		switch ev.GetKind() {
		case spxv1.EventKind_EVENT_KIND_FETCHING:
			if !final && r.Outcome != spx.JobStaged {
				r.Outcome = spx.JobFetching
			}
		case spxv1.EventKind_EVENT_KIND_STAGED:
			if !final {
				r.Outcome = spx.JobStaged
			}
			r.Rows, r.Contracts, r.SourceURL = ev.GetRows(), ev.GetContracts(), ev.GetSourceUrl()
			if ev.GetFetchedAt() != nil {
				r.FetchedAt = ev.GetFetchedAt().AsTime()
			}
		case spxv1.EventKind_EVENT_KIND_WRITTEN:
			r.Outcome, r.Rows, r.Bytes, r.SHA256, r.File = spx.JobWritten, ev.GetRows(), ev.GetBytes(), ev.GetSha256(), ev.GetFile()
			if ev.GetSourceUrl() != "" {
				r.SourceURL = ev.GetSourceUrl()
			}
			if ev.GetFetchedAt() != nil {
				r.FetchedAt = ev.GetFetchedAt().AsTime()
			}
			r.ErrorClass, r.LastError = "", ""
			dayChanged = true
		case spxv1.EventKind_EVENT_KIND_EMPTY:
			r.Outcome, r.Rows, r.Bytes, r.SHA256, r.File = spx.JobEmpty, 0, 0, "", ""
			r.ErrorClass, r.LastError = "", ""
			dayChanged = true
		case spxv1.EventKind_EVENT_KIND_FAILED:
			r.Outcome = spx.JobFailed
			dayChanged = true
		case spxv1.EventKind_EVENT_KIND_DEAD:
			r.Outcome = spx.JobDead
			dayChanged = true
		case spxv1.EventKind_EVENT_KIND_REFETCH:
			// Already written in this generation: a second delivery of the
			// write job (after a crash) found the staged object consumed by
			// the first. The file is in place; fetching again would reopen
			// a finished job.
			refetch = r.Outcome != spx.JobWritten
		}
		return nil
	})
	if errors.Is(err, errStale) {
		s.log.Debug("ignoring an event of an older generation", "job", key.String(), "generation", gen)
		return nil
	}
	if err != nil {
		return fmt.Errorf("recording %s event of %s: %w", ev.GetKind(), key, err)
	}
	if ev.GetKind() == spxv1.EventKind_EVENT_KIND_FAILED || refetch {
		s.appendErrorLocked(ctx, spx.ErrorEntry{Time: now, Type: ev.GetErrorClass(), Message: ev.GetErrorMessage(),
			Detail: ev.GetErrorDetail(), Job: key.String(), Date: key.Date})
	}
	if refetch {
		rec, _, err := s.store.Job(ctx, key)
		if err != nil {
			return fmt.Errorf("reading job %s: %w", key, err)
		}
		if rec.Generation-1 >= s.cfg.MaxRefetch {
			if _, err := s.store.UpdateJob(ctx, key, func(r *spx.JobRecord) error {
				r.Outcome = spx.JobFailed
				r.LastError = fmt.Sprintf("staged data was corrupt %d times (last: %s); check the NATS server's disk, then spx retry %s", rec.Generation, ev.GetErrorMessage(), key.Date)
				return nil
			}); err != nil {
				return fmt.Errorf("recording job %s: %w", key, err)
			}
			dayChanged = true
		} else if err := s.requeueLocked(ctx, key, "refetch: "+ev.GetErrorMessage()); err != nil {
			return err
		}
	}
	if dayChanged {
		return s.updateDayLocked(ctx, key.Date)
	}
	return nil
}

type staleError struct{}

func (staleError) Error() string { return "stale event" }

var errStale error = staleError{}

// maxDeliveriesAdvisory is the server's MaxDeliver advisory.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// handleDeadLetter turns a MaxDeliver advisory into a dead job: it reads the
// job message by sequence, records the job dead with its last error and
// removes the message from the work stream.
func (s *Service) handleDeadLetter(ctx context.Context, msg jetstream.Msg) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(msg.Data(), &adv); err != nil {
		s.log.Error("dropping an unreadable dead-letter advisory", "err", err)
		return nil
	}
	stream, err := s.js.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", adv.Stream, err)
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		// Already gone (acked late, purged by a retry): nothing to record.
		s.log.Info("dead letter's message is gone; ignoring", "stream", adv.Stream, "seq", adv.StreamSeq, "err", err)
		return nil
	}
	var jobs []queue.ChainJob
	stage := "fetch"
	if adv.Stream == queue.StreamWrite {
		stage = "write"
		job, k, err := queue.DecodeWriteJob(raw.Data)
		if err != nil {
			return nil
		}
		jobs = []queue.ChainJob{{Key: k, Generation: int(job.GetGeneration())}}
	} else {
		job, k, err := queue.DecodeFetchJob(raw.Data)
		if err != nil {
			return nil
		}
		// A chain fetch that ran out of deliveries makes each of its jobs
		// dead, but for one an earlier delivery split off onto a message
		// of its own: that job is still on its way.
		all, err := queue.ChainJobs(job, k)
		if err != nil {
			return nil
		}
		for _, j := range all {
			if k.Chain() {
				gen, own, err := queue.OwnFetchMessage(ctx, s.js, j.Key)
				if err != nil {
					return err
				}
				if own && gen >= j.Generation {
					continue
				}
			}
			jobs = append(jobs, j)
		}
	}
	for _, j := range jobs {
		if err := s.recordDead(ctx, j, stage, adv.Deliveries); err != nil {
			return err
		}
	}
	if err := stream.DeleteMsg(ctx, adv.StreamSeq); err != nil {
		s.log.Warn("deleting a dead job message failed", "subject", raw.Subject, "err", err)
	}
	return nil
}

// recordDead records a job dead after deliveries at stage, with its last error.
func (s *Service) recordDead(ctx context.Context, j queue.ChainJob, stage string, deliveries uint64) error {
	key := j.Key
	rec, _, err := s.store.Job(ctx, key)
	if err != nil {
		return fmt.Errorf("reading job %s: %w", key, err)
	}
	if stage == "fetch" && rec.Generation == j.Generation && (rec.Outcome.Done() || rec.Outcome == spx.JobStaged) {
		// Fetched already (a chain fetch staged it, then its ack was lost):
		// the fetch message running out of deliveries does not undo that.
		return nil
	}
	last := rec.LastError
	if last == "" {
		last = "no error reported (the worker may have crashed or timed out)"
	}
	msgText := fmt.Sprintf("gave up after %d deliveries to the %s stage; last error: %s (fix the cause, then spx retry %s)", deliveries, stage, last, key.Date)
	ev := &spxv1.Event{Kind: spxv1.EventKind_EVENT_KIND_DEAD, Key: queue.KeyToProto(key), Generation: int32(j.Generation), Stage: stage,
		Delivery: int32(deliveries), ErrorClass: string(rec.ErrorClass), ErrorMessage: msgText}
	if err := s.HandleEvent(ctx, key, ev); err != nil {
		return err
	}
	s.appendError(ctx, spx.ErrorEntry{Time: time.Now(), Type: "dead", Message: msgText, Job: key.String(), Date: key.Date})
	s.log.Warn("job dead", "job", key.String(), "deliveries", deliveries, "last_error", last)
	return nil
}
