package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the JetStream objects spx uses (DESIGN.md §2).
const (
	StreamFetch  = "SPX_FETCH"
	StreamWrite  = "SPX_WRITE"
	StreamEvents = "SPX_EVENTS"
	StreamDLQ    = "SPX_DLQ"

	ConsumerFetchers    = "fetchers"
	ConsumerWriters     = "writers"
	ConsumerCoordinator = "coordinator"
	ConsumerDeadLetters = "coordinator-dlq"

	Bucket = "spx-staging"

	SubjectFetch  = "spx.fetch.>"
	SubjectWrite  = "spx.write.>"
	SubjectEvents = "spx.event.>"

	// Advisory subjects the server publishes when a job message hits MaxDeliver.
	AdvisoryFetchDead = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamFetch + "." + ConsumerFetchers
	AdvisoryWriteDead = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamWrite + "." + ConsumerWriters
)

// Topology holds the tunable settings of the streams and consumers. The zero
// value of any field means the DESIGN.md default; tests shorten AckWait,
// MaxDeliver and BackOff.
type Topology struct {
	Concurrency     int             // fetch consumer MaxAckPending (terminal concurrency), default 4
	FetchAckWait    time.Duration   // default DefaultAckWait
	FetchMaxDeliver int             // default 8
	FetchBackOff    []time.Duration // optional redelivery back-off (len < FetchMaxDeliver)
	WriteAckWait    time.Duration   // default DefaultAckWait
	WriteMaxDeliver int             // default 5
	Replicas        int             // default 1 (3 on a cluster)
	StagingReplicas int             // staging object store replicas, default Replicas
	EventsMaxAge    time.Duration   // default 7 days
	StagingTTL      time.Duration   // default 7 days
	ChunkSize       uint32          // object chunk size, default 512 KiB
	Memory          bool            // memory storage instead of file (tests only)
}

// DefaultAckWait is the work consumers' AckWait: how long a job a worker
// took stays its own without a word from it. Workers tell the server every
// DefaultInProgressEvery that they are still at it (however long a terminal
// request or a write takes), so AckWait only measures how soon the jobs of
// a worker that died (killed, its machine or connection gone) go to
// another one. It was 60 s; a fetcher killed with every slot of the
// cluster-wide cap (MaxAckPending) then left the other fetchers idle for a
// minute.
const DefaultAckWait = 20 * time.Second

// DefaultInProgressEvery is how often a worker says it is still working on
// its job: a quarter of DefaultAckWait, so three missed beats in a row (a
// stalled connection, a starved process) still do not lose the job.
const DefaultInProgressEvery = 5 * time.Second

func (t Topology) withDefaults() Topology {
	if t.Concurrency <= 0 {
		t.Concurrency = 4
	}
	if t.FetchAckWait <= 0 {
		t.FetchAckWait = DefaultAckWait
	}
	if t.FetchMaxDeliver <= 0 {
		t.FetchMaxDeliver = 8
	}
	if t.WriteAckWait <= 0 {
		t.WriteAckWait = DefaultAckWait
	}
	if t.WriteMaxDeliver <= 0 {
		t.WriteMaxDeliver = 5
	}
	if t.Replicas <= 0 {
		t.Replicas = 1
	}
	if t.EventsMaxAge <= 0 {
		t.EventsMaxAge = 7 * 24 * time.Hour
	}
	if t.StagingTTL <= 0 {
		t.StagingTTL = 7 * 24 * time.Hour
	}
	if t.ChunkSize == 0 {
		t.ChunkSize = 512 << 10
	}
	return t
}

// workStream is the configuration shared by SPX_FETCH and SPX_WRITE: a job
// subject holds at most one message, a second publish is refused (not
// replacing the first), and a re-publish of the same generation inside 10
// minutes is dropped as a duplicate.
func workStream(name, subject string, t Topology) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:                 name,
		Subjects:             []string{subject},
		Retention:            jetstream.WorkQueuePolicy,
		Storage:              t.storage(),
		Replicas:             t.Replicas,
		MaxMsgsPerSubject:    1,
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		Duplicates:           10 * time.Minute,
		AllowDirect:          true,
	}
}

func (t Topology) storage() jetstream.StorageType {
	if t.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// FetchConsumer is the shared pull consumer the fetchers use.
func (t Topology) FetchConsumer() jetstream.ConsumerConfig {
	t = t.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       ConsumerFetchers,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.FetchAckWait,
		MaxDeliver:    t.FetchMaxDeliver,
		BackOff:       t.FetchBackOff,
		MaxAckPending: t.Concurrency,
		FilterSubject: SubjectFetch,
		Replicas:      t.Replicas,
	}
}

// WriteConsumer is the shared pull consumer the writers use.
func (t Topology) WriteConsumer() jetstream.ConsumerConfig {
	t = t.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       ConsumerWriters,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       t.WriteAckWait,
		MaxDeliver:    t.WriteMaxDeliver,
		FilterSubject: SubjectWrite,
		Replicas:      t.Replicas,
	}
}

// Ensure creates or updates every stream, consumer and the staging bucket.
// It is idempotent: the coordinator calls it at every start.
func Ensure(ctx context.Context, js jetstream.JetStream, t Topology) error {
	t = t.withDefaults()
	streams := []jetstream.StreamConfig{
		workStream(StreamFetch, SubjectFetch, t),
		workStream(StreamWrite, SubjectWrite, t),
		{
			Name:      StreamEvents,
			Subjects:  []string{SubjectEvents},
			Retention: jetstream.LimitsPolicy,
			Storage:   t.storage(),
			Replicas:  t.Replicas,
			MaxAge:    t.EventsMaxAge,
		},
		{
			// Captures MaxDeliver advisories so no dead letter is lost while
			// the coordinator is down.
			Name:      StreamDLQ,
			Subjects:  []string{AdvisoryFetchDead, AdvisoryWriteDead},
			Retention: jetstream.LimitsPolicy,
			Storage:   t.storage(),
			Replicas:  t.Replicas,
			MaxAge:    t.EventsMaxAge,
		},
	}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("creating stream %s: %w", cfg.Name, err)
		}
	}
	consumers := []struct {
		stream string
		cfg    jetstream.ConsumerConfig
	}{
		{StreamFetch, t.FetchConsumer()},
		{StreamWrite, t.WriteConsumer()},
		{StreamEvents, jetstream.ConsumerConfig{
			Durable: ConsumerCoordinator, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, MaxAckPending: 1000, Replicas: t.Replicas,
		}},
		{StreamDLQ, jetstream.ConsumerConfig{
			Durable: ConsumerDeadLetters, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, Replicas: t.Replicas,
		}},
	}
	for _, c := range consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.stream, c.cfg); err != nil {
			return fmt.Errorf("creating consumer %s on %s: %w", c.cfg.Durable, c.stream, err)
		}
	}
	// The staging bucket's byte limit is the StoreWatch's to keep (the
	// room the disk and the store's limit leave): it stays as it is.
	var maxBytes int64
	if s, err := js.Stream(ctx, StagingStream); err == nil {
		maxBytes = s.CachedInfo().Config.MaxBytes
	}
	_, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      Bucket,
		Description: "NDJSON arrays (s2) staged by fetchers for writers",
		TTL:         t.StagingTTL,
		MaxBytes:    maxBytes,
		Storage:     t.storage(),
		Replicas:    cmp.Or(t.StagingReplicas, t.Replicas),
		Compression: false,
	})
	if err != nil {
		return fmt.Errorf("creating object store %s: %w", Bucket, err)
	}
	return nil
}

// ErrNoTopology means the streams do not exist yet: the coordinator has not
// started against this NATS server.
var ErrNoTopology = errors.New("the spx streams do not exist on this NATS server: start the coordinator (spx run or spx coordinator) first")

// WaitTopology waits until the coordinator has created the topology (workers
// started before the coordinator use it), or ctx ends.
func WaitTopology(ctx context.Context, js jetstream.JetStream) error {
	for {
		_, err := js.Consumer(ctx, StreamWrite, ConsumerWriters)
		if err == nil {
			if _, err = js.ObjectStore(ctx, Bucket); err == nil {
				return nil
			}
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("looking up the spx topology: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", ErrNoTopology, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
