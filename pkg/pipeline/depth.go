package pipeline

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
)

// QueueDepth connects to the NATS server at url (credentials optional) and
// returns pending, in-flight, redelivered and dead counts of the fetch and
// write stages. It is what `spx status` shows as queue depth.
func QueueDepth(ctx context.Context, url, credentials string) ([]queue.StageDepth, error) {
	nc, err := Connect(url, credentials, "spx-status")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	return queue.Depth(ctx, js)
}
