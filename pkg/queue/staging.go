package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// stagingChunks prefixes the subjects of the staged objects' chunks (the
// object store's $O.<bucket>.C.<nuid>).
const stagingChunks = "$O." + Bucket + ".C."

// DeleteStaged deletes the staged object name, its chunks first. The
// object store's own Delete stores a deletion marker before it purges the
// chunks, which a full store refuses: objects could not be deleted to make
// room just when room was needed. Purging needs no room, and once the
// chunks are gone the marker fits.
func DeleteStaged(ctx context.Context, js jetstream.JetStream, store jetstream.ObjectStore, name string) error {
	info, err := store.GetInfo(ctx, name)
	if err != nil {
		return err
	}
	s, err := js.Stream(ctx, StagingStream)
	if err != nil {
		return fmt.Errorf("opening %s: %w", StagingStream, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(stagingChunks+info.NUID)); err != nil {
		return fmt.Errorf("purging the chunks of %s: %w", name, err)
	}
	return store.Delete(ctx, name)
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
