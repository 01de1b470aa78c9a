package queue

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// StageDepth is the queue depth of one pipeline stage.
type StageDepth struct {
	Stage       string `json:"stage"` // "fetch" or "write"
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	Pending     uint64 `json:"pending"`     // waiting, not delivered yet
	InFlight    int    `json:"in_flight"`   // delivered, not acknowledged
	Redelivered int    `json:"redelivered"` // in flight after at least one redelivery
	Dead        uint64 `json:"dead"`        // MaxDeliver advisories retained in SPX_DLQ
}

// Depth reports pending, in-flight, redelivered and dead counts for the fetch
// and write stages. They count messages: a chain fetch (PublishChain), which
// carries several jobs, counts once in the fetch stage; per-job counts are
// in the status store.
func Depth(ctx context.Context, js jetstream.JetStream) ([]StageDepth, error) {
	dead := map[string]uint64{}
	if s, err := js.Stream(ctx, StreamDLQ); err == nil {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", StreamDLQ, err)
		}
		for subj, n := range info.State.Subjects {
			dead[subj] = n
		}
	}
	stages := []StageDepth{
		{Stage: "fetch", Stream: StreamFetch, Consumer: ConsumerFetchers, Dead: dead[AdvisoryFetchDead]},
		{Stage: "write", Stream: StreamWrite, Consumer: ConsumerWriters, Dead: dead[AdvisoryWriteDead]},
	}
	for i := range stages {
		c, err := js.Consumer(ctx, stages[i].Stream, stages[i].Consumer)
		if err != nil {
			return nil, fmt.Errorf("opening consumer %s on %s (has the coordinator started?): %w", stages[i].Consumer, stages[i].Stream, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading consumer %s: %w", stages[i].Consumer, err)
		}
		stages[i].Pending = info.NumPending
		stages[i].InFlight = info.NumAckPending
		stages[i].Redelivered = info.NumRedelivered
	}
	return stages, nil
}
