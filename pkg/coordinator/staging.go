package coordinator

import (
	"context"
	"time"

	"github.com/spx-archive/spx/pkg/queue"
)

// fullSweep is how often staging is swept while the NATS store is full:
// what it removes is the room the fetchers wait for.
const fullSweep = 15 * time.Second

// sweepStaging removes, every StagingSweep (every fullSweep while the NATS
// store is full), the staged objects of finished jobs and the chunks of
// puts cut short, until ctx ends. The writers delete what they have
// written, but a delete can fail (a full store refused it before
// queue.DeleteStaged, NATS away, a crash); the bucket's TTL would keep
// them for days, holding room the fetchers need.
func (s *Service) sweepStaging(ctx context.Context) {
	last := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		every := s.cfg.StagingSweep
		if s.cfg.NATSStore != nil {
			if st := s.cfg.NATSStore(); st != nil && st.Full {
				every = min(every, fullSweep)
			}
		}
		if time.Since(last) < every {
			continue
		}
		last = time.Now()
		s.SweepStaging(ctx)
	}
}

// SweepStaging removes staged objects of finished jobs and chunks of cut
// puts older than OrphanAge now, and returns how many of each.
func (s *Service) SweepStaging(ctx context.Context) (objects, orphans int) {
	objects, err := s.removeFinishedStaged(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("sweeping staged objects of finished jobs failed; trying again later", "err", err)
	}
	orphans, err = queue.PurgeOrphanChunks(ctx, s.js, s.cfg.OrphanAge)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("purging chunks of cut puts failed; trying again later", "err", err)
	}
	if orphans > 0 {
		s.log.Info("purged the chunks of staged objects whose put was cut short", "puts", orphans)
	}
	return objects, orphans
}
