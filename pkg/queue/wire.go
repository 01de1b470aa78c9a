package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/spx-archive/spx/pkg/spx"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// MsgID is the Nats-Msg-Id of a job message: key + "." + generation, so a
// re-publish of the same generation is dropped and a retry is not.
func MsgID(key spx.JobKey, generation int) string {
	return key.String() + "." + strconv.Itoa(generation)
}

// EventSubject is the subject of a job's events on SPX_EVENTS.
func EventSubject(key spx.JobKey) string {
	return "spx.event." + strings.TrimPrefix(key.FetchSubject(), "spx.fetch.")
}

// KeyToProto converts a job key to its wire form.
func KeyToProto(k spx.JobKey) *spxv1.JobKey {
	p := &spxv1.JobKey{Dataset: string(k.Dataset), Root: k.Root, Date: int32(k.Date.Int())}
	if !k.Chain() {
		p.Expiration = int32(k.Expiration.Int())
	}
	return p
}

// KeyFromProto converts and checks a wire job key.
func KeyFromProto(p *spxv1.JobKey) (spx.JobKey, error) { return keyFromProto(p, false) }

// keyFromProto is KeyFromProto that, with chain, takes the key of a chain
// fetch: no expiration, and only that.
func keyFromProto(p *spxv1.JobKey, chain bool) (spx.JobKey, error) {
	if p == nil {
		return spx.JobKey{}, errors.New("message has no job key")
	}
	ds, err := spx.ParseDataset(p.GetDataset())
	if err != nil {
		return spx.JobKey{}, err
	}
	d, err := spx.DateFromInt(int(p.GetDate()))
	if err != nil {
		return spx.JobKey{}, fmt.Errorf("job date: %w", err)
	}
	var e spx.Date
	switch {
	case chain && p.GetExpiration() != 0:
		return spx.JobKey{}, errors.New("chain fetch job with an expiration in its key")
	case !chain:
		if e, err = spx.DateFromInt(int(p.GetExpiration())); err != nil {
			return spx.JobKey{}, fmt.Errorf("job expiration: %w", err)
		}
	}
	if p.GetRoot() == "" {
		return spx.JobKey{}, errors.New("job has an empty root")
	}
	return spx.JobKey{Dataset: ds, Root: p.GetRoot(), Date: d, Expiration: e}, nil
}

// ErrAlreadyQueued means the job's subject already holds a message (the job
// is waiting or in flight): the publish was refused, nothing changed.
var ErrAlreadyQueued = errors.New("job is already queued")

// publish sends a job message with its msg id; a refusal because the subject
// already holds a message is ErrAlreadyQueued.
func publish(ctx context.Context, js jetstream.JetStream, subject, id string, m proto.Message) (duplicate bool, err error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("encoding %s: %w", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		// The server refuses a second message on a job subject
		// (MaxMsgsPerSubject 1 + DiscardNewPerSubject).
		if strings.Contains(err.Error(), "maximum messages per subject") {
			return false, fmt.Errorf("publishing %s: %w", subject, ErrAlreadyQueued)
		}
		return false, fmt.Errorf("publishing %s: %w", subject, err)
	}
	return ack.Duplicate, nil
}

// PublishFetch queues a fetch job. A duplicate (same key and generation
// within 10 minutes) is not an error.
func PublishFetch(ctx context.Context, js jetstream.JetStream, key spx.JobKey, generation int, interval time.Duration) error {
	_, err := PublishFetchDup(ctx, js, key, generation, interval)
	return err
}

// PublishFetchDup is PublishFetch that also says whether the server dropped
// the message as a duplicate: then nothing was stored, and the job is queued
// only if the first message of this generation is still in the stream (see
// JobMessage); one already consumed, or lost in a crash, needs a new
// generation.
func PublishFetchDup(ctx context.Context, js jetstream.JetStream, key spx.JobKey, generation int, interval time.Duration) (duplicate bool, err error) {
	return publish(ctx, js, key.FetchSubject(), MsgID(key, generation), fetchJob(key, generation, interval))
}

// fetchJob is the fetch message of key (a chain's: generation 0, entries
// added by the caller).
func fetchJob(key spx.JobKey, generation int, interval time.Duration) *spxv1.FetchJob {
	return &spxv1.FetchJob{Key: KeyToProto(key), Generation: int32(generation), IntervalMs: interval.Milliseconds(), QueuedAt: timestamppb.Now()}
}

// PublishFetchNewest queues a fetch job of generation, replacing a message
// of an older generation that waits on the job's subject (see
// publishNewest); one of this generation or newer is left alone.
func PublishFetchNewest(ctx context.Context, js jetstream.JetStream, key spx.JobKey, generation int, interval time.Duration) error {
	job := fetchJob(key, generation, interval)
	return publishNewest(ctx, js, StreamFetch, key.FetchSubject(), MsgID(key, generation), job, generation, func(data []byte) (int, error) {
		j, _, err := DecodeFetchJob(data)
		return int(j.GetGeneration()), err
	})
}

// PublishWriteNewest queues a write job, replacing a write of an older
// generation that waits on the job's subject (whose writer's outcome,
// ignored as stale, would leave this generation unwritten); one of this
// generation or newer is left alone.
func PublishWriteNewest(ctx context.Context, js jetstream.JetStream, job *spxv1.WriteJob) error {
	key, err := KeyFromProto(job.GetKey())
	if err != nil {
		return err
	}
	gen := int(job.GetGeneration())
	return publishNewest(ctx, js, StreamWrite, key.WriteSubject(), MsgID(key, gen), job, gen, func(data []byte) (int, error) {
		j, _, err := DecodeWriteJob(data)
		return int(j.GetGeneration()), err
	})
}

// publishNewest publishes m (of generation gen) on a job subject of
// stream. When the subject already holds a message, that message is kept
// if genOf says it is of gen or newer, and otherwise deleted by its
// sequence (so a newer one published meanwhile is never the one removed)
// and the publish tried again; a subject emptied meanwhile (the message
// consumed) is published to again.
func publishNewest(ctx context.Context, js jetstream.JetStream, stream, subject, id string, m proto.Message, gen int, genOf func([]byte) (int, error)) error {
	for range 5 {
		_, err := publish(ctx, js, subject, id, m)
		if !errors.Is(err, ErrAlreadyQueued) {
			return err
		}
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return fmt.Errorf("opening stream %s: %w", stream, err)
		}
		raw, ok, err := lastMsg(ctx, s, subject)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if g, err := genOf(raw.Data); err == nil && g >= gen {
			return nil
		}
		if err := s.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("removing an older message of %s: %w", subject, err)
		}
	}
	return fmt.Errorf("publishing %s: %w (it kept holding another message)", subject, ErrAlreadyQueued)
}

// PublishWrite queues a write job.
func PublishWrite(ctx context.Context, js jetstream.JetStream, job *spxv1.WriteJob) error {
	key, err := KeyFromProto(job.GetKey())
	if err != nil {
		return err
	}
	_, err = publish(ctx, js, key.WriteSubject(), MsgID(key, int(job.GetGeneration())), job)
	return err
}

// PublishEvent records an event on SPX_EVENTS.
func PublishEvent(ctx context.Context, js jetstream.JetStream, ev *spxv1.Event) error {
	key, err := KeyFromProto(ev.GetKey())
	if err != nil {
		return err
	}
	if ev.Time == nil {
		ev.Time = timestamppb.Now()
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding event: %w", err)
	}
	if _, err := js.Publish(ctx, EventSubject(key), data); err != nil {
		return fmt.Errorf("publishing %s event for %s: %w", ev.GetKind(), key, err)
	}
	return nil
}

// DecodeFetchJob decodes a SPX_FETCH message. A chain fetch's key has no
// expiration (spx.JobKey.Chain); ChainJobs lists its jobs.
func DecodeFetchJob(data []byte) (*spxv1.FetchJob, spx.JobKey, error) {
	var job spxv1.FetchJob
	if err := proto.Unmarshal(data, &job); err != nil {
		return nil, spx.JobKey{}, fmt.Errorf("decoding fetch job: %w", err)
	}
	key, err := keyFromProto(job.GetKey(), len(job.GetChain()) > 0)
	return &job, key, err
}

// ChainJob is one job of a chain fetch, with its generation.
type ChainJob struct {
	Key        spx.JobKey
	Generation int
}

// ChainJobs lists the jobs a fetch message carries: its own job, or each
// entry of a chain fetch (chain is DecodeFetchJob's key).
func ChainJobs(job *spxv1.FetchJob, chain spx.JobKey) ([]ChainJob, error) {
	if !chain.Chain() {
		return []ChainJob{{Key: chain, Generation: int(job.GetGeneration())}}, nil
	}
	out := make([]ChainJob, 0, len(job.GetChain()))
	for _, e := range job.GetChain() {
		exp, err := spx.DateFromInt(int(e.GetExpiration()))
		if err != nil {
			return nil, fmt.Errorf("chain fetch %s: entry expiration: %w", chain, err)
		}
		k := chain
		k.Expiration = exp
		out = append(out, ChainJob{Key: k, Generation: int(e.GetGeneration())})
	}
	return out, nil
}

// PublishChain queues one chain fetch for jobs, which must share dataset,
// root and date (one expiration=* request stages them all). Its message ID
// names the jobs and generations, so the same chain published twice is
// dropped as a duplicate (the result says so, as PublishFetchDup's does),
// and a chain of other jobs or generations is not. A chain subject that
// already holds a message refuses it with ErrAlreadyQueued: the caller
// queues each job not in that message on its own.
func PublishChain(ctx context.Context, js jetstream.JetStream, jobs []ChainJob, interval time.Duration) (duplicate bool, err error) {
	if len(jobs) == 0 {
		return false, errors.New("a chain fetch needs at least one job")
	}
	chain := jobs[0].Key.ChainKey()
	job := fetchJob(chain, 0, interval)
	h := sha256.New()
	for _, j := range jobs {
		if j.Key.ChainKey() != chain || j.Key.Chain() {
			return false, fmt.Errorf("job %s does not belong in chain fetch %s", j.Key, chain)
		}
		job.Chain = append(job.Chain, &spxv1.ChainEntry{Expiration: int32(j.Key.Expiration.Int()), Generation: int32(j.Generation)})
		fmt.Fprintf(h, "%d:%d,", j.Key.Expiration.Int(), j.Generation)
	}
	id := chain.String() + "." + hex.EncodeToString(h.Sum(nil)[:8])
	return publish(ctx, js, chain.FetchSubject(), id, job)
}

// DecodeWriteJob decodes a SPX_WRITE message.
func DecodeWriteJob(data []byte) (*spxv1.WriteJob, spx.JobKey, error) {
	var job spxv1.WriteJob
	if err := proto.Unmarshal(data, &job); err != nil {
		return nil, spx.JobKey{}, fmt.Errorf("decoding write job: %w", err)
	}
	key, err := KeyFromProto(job.GetKey())
	return &job, key, err
}

// DecodeEvent decodes a SPX_EVENTS message.
func DecodeEvent(data []byte) (*spxv1.Event, spx.JobKey, error) {
	var ev spxv1.Event
	if err := proto.Unmarshal(data, &ev); err != nil {
		return nil, spx.JobKey{}, fmt.Errorf("decoding event: %w", err)
	}
	key, err := KeyFromProto(ev.GetKey())
	return &ev, key, err
}

// PurgeJob removes any message still waiting on the job's subject in the
// stream (used before a retry publishes a new generation).
func PurgeJob(ctx context.Context, js jetstream.JetStream, stream, subject string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("opening stream %s: %w", stream, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("purging %s: %w", subject, err)
	}
	return nil
}
