package queue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Subjects of the staging object store: chunks are $O.<bucket>.C.<nuid>,
// an object's entry $O.<bucket>.M.<base64url(name)>.
const (
	stagingChunks = "$O." + Bucket + ".C."
	stagingMeta   = "$O." + Bucket + ".M."
)

// DeleteStaged removes the staged object name and leaves nothing of it: its
// chunks are purged, then its entry. The object store's own Delete stores a
// deletion marker before it purges the chunks, which a full store refuses
// (objects could not be deleted just when room was needed), and the
// markers, kept for the bucket's TTL, hold on to the file store's blocks:
// the disk space of the deleted chunks came back only when the server
// compacted them, minutes later. Purging needs no room, and a block with
// nothing left in it is removed at once. An entry a newer put of the same
// name stored meanwhile stays. It returns jetstream.ErrObjectNotFound if
// there is no such object.
func DeleteStaged(ctx context.Context, js jetstream.JetStream, name string) error {
	s, err := js.Stream(ctx, StagingStream)
	if err != nil {
		return fmt.Errorf("opening %s: %w", StagingStream, err)
	}
	metaSubj := stagingMeta + base64.URLEncoding.EncodeToString([]byte(name))
	m, err := s.GetLastMsgForSubject(ctx, metaSubj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return jetstream.ErrObjectNotFound
	}
	if err != nil {
		return fmt.Errorf("reading the entry of %s: %w", name, err)
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(m.Data, &info); err != nil {
		return fmt.Errorf("reading the entry of %s: %w", name, err)
	}
	if info.NUID != "" {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(stagingChunks+info.NUID)); err != nil {
			return fmt.Errorf("purging the chunks of %s: %w", name, err)
		}
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(metaSubj), jetstream.WithPurgeSequence(m.Sequence+1)); err != nil {
		return fmt.Errorf("purging the entry of %s: %w", name, err)
	}
	if info.Deleted {
		return jetstream.ErrObjectNotFound
	}
	return nil
}

// PurgeOrphanChunks purges chunks that belong to no staged object and were
// last added to more than olderThan ago: puts that were cut (a fetcher
// killed, or a full store refusing the put and then its clean-up). The
// object store only drops them at the bucket's TTL (days), and on a full
// store they are what holds the room. olderThan must exceed the longest
// pause between two chunks of a put in progress (a terminal request's
// timeout). It returns the objects' worth of chunks it purged.
func PurgeOrphanChunks(ctx context.Context, js jetstream.JetStream, olderThan time.Duration) (int, error) {
	s, err := js.Stream(ctx, StagingStream)
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", StagingStream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(stagingChunks+">"))
	if err != nil {
		return 0, fmt.Errorf("listing the chunks in %s: %w", StagingStream, err)
	}
	if len(info.State.Subjects) == 0 {
		return 0, nil
	}
	store, err := js.ObjectStore(ctx, Bucket)
	if err != nil {
		return 0, fmt.Errorf("opening object store %s: %w", Bucket, err)
	}
	live := map[string]bool{}
	objs, err := store.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, fmt.Errorf("listing %s: %w", Bucket, err)
	}
	for _, o := range objs {
		live[o.NUID] = true
	}
	purged := 0
	for subj := range info.State.Subjects {
		if live[strings.TrimPrefix(subj, stagingChunks)] {
			continue
		}
		last, err := s.GetLastMsgForSubject(ctx, subj)
		if err != nil || time.Since(last.Time) < olderThan {
			continue // gone meanwhile, or a put still going on
		}
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return purged, fmt.Errorf("purging %s: %w", subj, err)
		}
		purged++
	}
	return purged, nil
}
