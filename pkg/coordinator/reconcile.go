package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// Crash recovery. The status store (bbolt, synced on every commit) and the
// JetStream streams are written one after the other, so a crash of the
// process holding both (spx run, or spx coordinator with its embedded
// server) can leave them disagreeing:
//
//   - a job recorded queued whose message was never published (the crash
//     fell between the two), or whose message is gone (a re-publish of the
//     same generation inside the 10-minute duplicate window is dropped, so
//     enqueueing it again would not help);
//   - a job recorded fetching or staged with neither its fetch nor its
//     write message left;
//   - a requeue cut short: the record has the new generation, the stream
//     only the old one, whose events the coordinator ignores as stale;
//   - a day whose planning stopped part-way: some jobs recorded, the rest
//     never listed, and the days after it in the same request not planned;
//   - staged objects of jobs that are already finished;
//   - day records no job backs that nothing will ever move (an older spx
//     made them: see dropPhantoms).
//
// Reconcile repairs each at coordinator start.

// eventsWait bounds how long Reconcile waits for the events stored before
// it to be recorded: the events consumer's AckWait (30 s, for events the
// killed process held) plus time to apply a backlog.
const eventsWait = 2 * time.Minute

// ReconcileResult says what Reconcile did.
type ReconcileResult struct {
	Requeued      []string   `json:"requeued"`       // in-flight jobs with no message of their generation
	Replanned     []spx.Date `json:"replanned"`      // days whose planning a crash cut short
	StagedRemoved int        `json:"staged_removed"` // staged objects of finished jobs deleted
	Dropped       []spx.Date `json:"dropped"`        // phantom day records removed
}

// Reconcile compares the status store with the work streams and queues
// again, with a new generation, every job recorded queued, fetching or
// staged that has no message of its generation in SPX_FETCH or SPX_WRITE,
// after planning again the days marked as being planned; last it deletes
// staged objects of finished jobs. It is safe while workers run: a worker publishes
// a job's next message or its outcome event before it acks the message it
// holds, and Reconcile reads SPX_FETCH before SPX_WRITE and waits until the
// events stored by then are applied before it decides.
func (s *Service) Reconcile(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	// Records first catch up with what the workers reported before the
	// crash (planning again on stale records would redo finished jobs).
	if err := s.eventsApplied(ctx); err != nil {
		return res, err
	}
	var err error
	if res.Dropped, err = s.dropPhantoms(ctx); err != nil {
		return res, err
	}
	if res.Replanned, err = s.replan(ctx); err != nil {
		return res, err
	}
	inflight, err := s.store.Jobs(ctx, spx.JobFilter{Outcomes: []spx.JobOutcome{spx.JobQueued, spx.JobFetching, spx.JobStaged}})
	if err != nil {
		return res, fmt.Errorf("listing jobs in flight: %w", err)
	}
	fetch, err := queue.Subjects(ctx, s.js, queue.StreamFetch)
	if err != nil {
		return res, err
	}
	write, err := queue.Subjects(ctx, s.js, queue.StreamWrite)
	if err != nil {
		return res, err
	}
	var suspects []spx.JobRecord
	for _, j := range inflight {
		own, chain, w := fetch[j.Key.FetchSubject()], fetch[j.Key.ChainKey().FetchSubject()], write[j.Key.WriteSubject()]
		f := own || chain
		current := f || w
		if current && (j.Generation > 1 || !own && !w) {
			// Only a requeue (generation 2 on) can leave an older message;
			// a chain fetch on the day's subject may not carry this job.
			if current, err = s.hasGeneration(ctx, j, f, w); err != nil {
				return res, err
			}
		}
		if !current {
			suspects = append(suspects, j)
		}
	}
	if len(suspects) > 0 {
		// A message acked after the streams were read had its event stored
		// before: once applied, the job's record shows it.
		if err := s.eventsApplied(ctx); err != nil {
			return res, err
		}
		if res.Requeued, err = s.requeueLost(ctx, suspects); err != nil {
			return res, err
		}
	}
	res.StagedRemoved, err = s.removeFinishedStaged(ctx)
	return res, err
}

// eventsApplied waits until the events stored so far are recorded. Events
// the killed process held unacked come back after the events consumer's
// AckWait (30 s). An event that keeps failing must not hold recovery back
// for ever: past eventsWait Reconcile goes on (at worst a job is done once
// more, with the same bytes).
func (s *Service) eventsApplied(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, eventsWait)
	err := queue.EventsApplied(wctx, s.js)
	cancel()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		return err
	case err != nil:
		s.log.Warn("events stored before the start are not all recorded yet; reconciling anyway", "err", err, "waited", eventsWait)
	}
	return nil
}

// hasGeneration reports whether the message of j in the work streams (f, w:
// which hold one) is of j's generation or newer.
func (s *Service) hasGeneration(ctx context.Context, j spx.JobRecord, f, w bool) (bool, error) {
	for _, st := range []struct {
		name string
		has  bool
	}{{queue.StreamFetch, f}, {queue.StreamWrite, w}} {
		if !st.has {
			continue
		}
		gen, ok, err := queue.JobMessage(ctx, s.js, st.name, j.Key)
		if err != nil {
			return false, err
		}
		if ok && gen >= j.Generation {
			return true, nil
		}
	}
	return false, nil
}

// requeueLost queues each suspect again unless its record moved on since it
// was read (an event applied, a retry).
func (s *Service) requeueLost(ctx context.Context, suspects []spx.JobRecord) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	days := map[spx.Date]bool{}
	for _, j := range suspects {
		rec, ok, err := s.store.Job(ctx, j.Key)
		if err != nil {
			return out, fmt.Errorf("reading job %s: %w", j.Key, err)
		}
		if !ok || rec.Generation != j.Generation || rec.Outcome != j.Outcome {
			continue
		}
		why := fmt.Sprintf("reconcile: recorded %s (generation %d) with no message of that generation in the work streams", rec.Outcome, rec.Generation)
		if err := s.requeueLocked(ctx, j.Key, why); err != nil {
			return out, err
		}
		out = append(out, j.Key.String())
		days[j.Key.Date] = true
	}
	for d := range days {
		if err := s.updateDayLocked(ctx, d); err != nil {
			return out, err
		}
	}
	if len(out) > 0 {
		s.log.Warn("queued again jobs a crash left without a message", "jobs", len(out))
	}
	return out, nil
}

// replan plans again the days whose planning a crash cut short.
func (s *Service) replan(ctx context.Context) ([]spx.Date, error) {
	days, err := s.store.Days(ctx, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("reading day records: %w", err)
	}
	var todo []spx.Date
	for _, d := range days {
		if d.Planning && s.CheckDay(d.Date) == nil {
			todo = append(todo, d.Date)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	s.log.Warn("planning again days a crash left half-planned", "days", todo)
	res, err := s.Enqueue(ctx, todo)
	if err != nil {
		return todo, fmt.Errorf("planning again %v: %w", todo, err)
	}
	for _, e := range res.NotListed {
		s.log.Error("a half-planned day could not be listed again; it stays a gap", "day", e)
	}
	return todo, nil
}

// dropPhantoms removes day records that no job backs and nothing will
// ever move, which spx status and the page would count for ever:
//   - queued and not being planned: an older spx made them when spx retry
//     (or the page's retry) named a day with nothing to retry, a weekend,
//     or a day to come;
//   - any record of a day that may not be archived (CheckDay: outside the
//     calendar, not a session, not final yet), or that was planned before
//     its data was final (its "no contracts" or failed listing says nothing
//     of the final day), which an older spx's spx process made.
//
// A day with jobs keeps its record; one still being planned but no longer
// archivable loses its mark (replan would refuse it for ever).
func (s *Service) dropPhantoms(ctx context.Context) ([]spx.Date, error) {
	days, err := s.store.Days(ctx, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("reading day records: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var dropped []spx.Date
	for _, d := range days {
		refused := s.CheckDay(d.Date) != nil
		premature := false
		if ss, ok := calendar.SessionOf(d.Date); ok && !d.StartedAt.IsZero() {
			premature = d.StartedAt.Before(ss.FinalAt(s.cfg.Follow.Delay))
		}
		phantom := d.Status == spx.DayQueued && !d.Planning
		if !phantom && !refused && !premature {
			continue
		}
		removed, err := s.store.DeleteDay(ctx, d.Date)
		if err != nil {
			return dropped, fmt.Errorf("removing day %s: %w", d.Date, err)
		}
		if removed {
			dropped = append(dropped, d.Date)
			continue
		}
		if d.Planning && refused {
			if err := s.clearPlanningLocked(ctx, d.Date); err != nil {
				return dropped, err
			}
		}
	}
	if len(dropped) > 0 {
		s.log.Warn("removed day records no job backs (queued with nothing queued, or days that may not be archived)", "days", dropped)
	}
	return dropped, nil
}

func (s *Service) clearPlanningLocked(ctx context.Context, d spx.Date) error {
	if _, err := s.store.UpdateDay(ctx, d, func(r *spx.DayRecord) error { r.Planning = false; return nil }); err != nil {
		return fmt.Errorf("recording day %s: %w", d, err)
	}
	return nil
}

// removeFinishedStaged deletes staged objects whose job is finished
// (written, empty, failed, dead) and has no write job waiting: a crash
// between a writer's ack and its delete, or a delete the store refused,
// leaves them for the bucket's TTL (days). Objects of jobs in flight or
// unknown to the store stay. A put cut short leaves chunks with no object
// entry: queue.PurgeOrphanChunks removes those (sweepStaging).
func (s *Service) removeFinishedStaged(ctx context.Context) (int, error) {
	store, err := s.js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		return 0, fmt.Errorf("opening object store %s: %w", queue.Bucket, err)
	}
	objs, err := store.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("listing %s: %w", queue.Bucket, err)
	}
	removed := 0
	for _, o := range objs {
		key, ok := stagedKey(o.Name)
		if !ok {
			continue
		}
		rec, ok, err := s.store.Job(ctx, key)
		if err != nil {
			return removed, fmt.Errorf("reading job %s: %w", key, err)
		}
		if !ok || !rec.Outcome.Terminal() {
			continue
		}
		if _, waiting, err := queue.JobMessage(ctx, s.js, queue.StreamWrite, key); err != nil || waiting {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = queue.DeleteStaged(dctx, s.js, o.Name)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			s.log.Warn("deleting a leftover staged object failed; its TTL removes it", "object", o.Name, "err", err)
			continue
		}
		removed++
	}
	if removed > 0 {
		s.log.Info("deleted staged objects of finished jobs", "objects", removed)
	}
	return removed, nil
}

// stagedKey is the job of a staged object name (spx.JobKey.ObjectName, or
// the .ndjson.zst of an older fetcher).
func stagedKey(name string) (spx.JobKey, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 {
		return spx.JobKey{}, false
	}
	exp, _, _ := strings.Cut(parts[3], ".")
	key, err := spx.ParseJobKey(strings.Join(append(parts[:3:3], exp), "."))
	if err != nil {
		return spx.JobKey{}, false
	}
	return key, name == key.ObjectName() || name == strings.TrimSuffix(key.ObjectName(), ".s2")+".zst"
}

// WaitEventsApplied waits up to d until every event stored on SPX_EVENTS
// so far has been recorded (a graceful shutdown calls it after the workers
// stopped). Events it does not wait for are recorded at the next start.
func (s *Service) WaitEventsApplied(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := queue.EventsApplied(ctx, s.js); err != nil {
		s.log.Info("stopping with events not yet recorded; they are recorded at the next start", "err", err)
	}
}
