package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
)

// smallServer runs an embedded server on a simulated disk with free bytes
// free (the store limit is three quarters of it) and spx's topology.
func smallServer(t *testing.T, disk *queuetest.Disk) (*queue.Server, jetstream.JetStream) {
	t.Helper()
	srv, err := queue.StartServer(queue.ServerOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Disk: disk.Space})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := queue.Ensure(context.Background(), js, queue.Topology{}); err != nil {
		t.Fatal(err)
	}
	disk.Track(func() int64 {
		info, err := srv.NATS().Jsz(nil)
		if err != nil {
			return 0
		}
		return int64(info.Store)
	})
	return srv, js
}

// The disk under the store fills up: the watch says so, with why, and
// stops the staging bucket where it is, so the server refuses a staged
// object (an error a worker recognises) before the disk is full. When the
// disk has room again (freed, or grown past what the store's limit allowed
// at start) the limit is raised by itself and staging goes on.
func TestStoreWatchFollowsTheDisk(t *testing.T) {
	disk := queuetest.NewDisk(16<<20, 64<<20)
	srv, js := smallServer(t, disk)
	ctx := context.Background()
	w := queue.NewStoreWatch(js, queue.StoreWatchConfig{Server: srv, Hold: 200 * time.Millisecond})
	st := w.Check(ctx)
	// 12 MiB limit, less 1.2 MiB for the queues; the disk keeps 4 MiB
	// free, staging takes at most half the rest.
	if st.Full || st.Limit != 12<<20 || st.StagedLimit != 6<<20 {
		t.Fatalf("first check on a 16 MiB disk: %+v", st)
	}
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := store.PutBytes(ctx, "a", data); err != nil {
		t.Fatal(err)
	}

	// Something else fills the disk.
	disk.SetFree(6 << 20)
	st = w.Check(ctx)
	if !st.Full || !strings.Contains(st.Reason, "free on the disk of nats.store_dir") {
		t.Fatalf("disk nearly full: %+v", st)
	}
	_, err = store.PutBytes(ctx, "b", data)
	if !queue.IsStoreFull(err) || !w.Full(ctx, err) {
		t.Fatalf("a put on a full store: %v; want a store-full error", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if err := w.WaitRoom(waitCtx); err == nil {
		t.Error("WaitRoom returned while the store is full")
	}
	cancel()

	// The file system is grown past what the store's limit allowed.
	disk.SetFree(40 << 20)
	time.Sleep(250 * time.Millisecond) // the noted error's hold
	st = w.Check(ctx)
	if st.Full || st.Limit <= 12<<20 {
		t.Fatalf("after the disk grew: %+v; want room and a raised limit", st)
	}
	if err := w.WaitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := store.PutBytes(ctx, fmt.Sprintf("c%d", i), data); err != nil {
			t.Fatalf("put %d after the limit was raised: %v", i, err)
		}
	}
	sp, err := srv.StoreSpace()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Limit != st.Limit {
		t.Errorf("server limit %d, watch says %d", sp.Limit, st.Limit)
	}
}

// A store full to its limit refuses the object store's own Delete (it
// stores a deletion marker before it purges the chunks): staged objects
// could not be deleted just when room was needed. DeleteStaged purges the
// chunks first.
func TestDeleteStagedOnAFullStore(t *testing.T) {
	disk := queuetest.NewDisk(8<<20, 64<<20) // limit 6 MiB, no watch: nothing stops the puts
	_, js := smallServer(t, disk)
	ctx := context.Background()
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1<<20)
	var names []string
	for i := 0; ; i++ {
		name := fmt.Sprintf("o%d", i)
		_, err := store.PutBytes(ctx, name, data)
		if err != nil {
			if !queue.IsStoreFull(err) {
				t.Fatalf("put %d: %v", i, err)
			}
			break
		}
		names = append(names, name)
		if i > 20 {
			t.Fatal("the store never filled")
		}
	}
	// A put that crosses the limit fails and takes its chunks back; an
	// event (any message) stored just below it takes the store over.
	if _, err := js.Publish(ctx, "spx.event.x", data); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, names[0]); !queue.IsStoreFull(err) {
		t.Fatalf("the object store's Delete on a full store: %v; want it refused", err)
	}
	for _, name := range names {
		if err := queue.DeleteStaged(ctx, js, name); err != nil {
			t.Fatalf("DeleteStaged %s on a full store: %v", name, err)
		}
	}
	if _, err := store.PutBytes(ctx, "after", data); err != nil {
		t.Fatalf("put after the deletes: %v", err)
	}
	if _, err := store.GetInfo(ctx, names[1]); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("a deleted object is still listed: %v", err)
	}
}

// Chunks of a put that was cut (no object entry) are purged once their last
// chunk is older than the age given; chunks of live objects and of recent
// puts stay.
func TestPurgeOrphanChunks(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	ctx := context.Background()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true}); err != nil {
		t.Fatal(err)
	}
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutBytes(ctx, "live", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	chunks := "$O." + queue.Bucket + ".C."
	for _, nuid := range []string{"CUT1", "CUT2"} {
		if _, err := js.Publish(ctx, chunks+nuid, []byte("partial")); err != nil {
			t.Fatal(err)
		}
	}
	_ = nc
	if n, err := queue.PurgeOrphanChunks(ctx, js, time.Hour); err != nil || n != 0 {
		t.Fatalf("recent chunks: purged %d (%v), want none", n, err)
	}
	time.Sleep(50 * time.Millisecond)
	n, err := queue.PurgeOrphanChunks(ctx, js, 10*time.Millisecond)
	if err != nil || n != 2 {
		t.Fatalf("purged %d (%v), want the 2 cut puts", n, err)
	}
	if got, err := store.GetBytes(ctx, "live"); err != nil || string(got) != "kept" {
		t.Errorf("live object after the purge: %q %v", got, err)
	}
	s, err := js.Stream(ctx, queue.StagingStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(chunks+">"))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != 1 {
		t.Errorf("chunk subjects left: %v, want the live object's", info.State.Subjects)
	}
}

func TestIsStoreFull(t *testing.T) {
	for _, c := range []struct {
		err  error
		full bool
	}{
		{&jetstream.APIError{Code: 503, ErrorCode: 10023, Description: "insufficient resources"}, true},
		{fmt.Errorf("staging x: %w", &jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "maximum bytes exceeded"}), true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10002, Description: "resource limits exceeded for account"}, true},
		{errors.New("write /data/nats/jetstream/x/1.blk: no space left on device"), true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10077, Description: "some other store failure"}, false},
		{jetstream.ErrAsyncPublishTimeout, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := queue.IsStoreFull(c.err); got != c.full {
			t.Errorf("IsStoreFull(%v) = %v, want %v", c.err, got, c.full)
		}
	}
}

// The staging bucket's limit is reserved out of the store's. A restart on a
// disk with less room (the archive grew beside the store) gave the store a
// limit below that reservation, and JetStream then refused to create or
// change any stream, so the coordinator could not start. Now the store's
// limit starts at the reservation and the watch lowers the bucket's.
func TestRestartOnASmallerDisk(t *testing.T) {
	dir := t.TempDir()
	disk := queuetest.NewDisk(64<<20, 1<<30)
	ctx := context.Background()
	start := func() (*queue.Server, jetstream.JetStream) {
		srv, err := queue.StartServer(queue.ServerOptions{Listen: "127.0.0.1:0", StoreDir: dir, Disk: disk.Space})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if err := queue.Ensure(ctx, js, queue.Topology{}); err != nil {
			srv.Shutdown()
			t.Fatalf("ensuring the topology: %v", err)
		}
		return srv, js
	}
	srv, js := start()
	cfg := queue.StoreWatchConfig{Server: srv, DiskReserve: 1 << 20}
	before := queue.NewStoreWatch(js, cfg).Check(ctx)
	srv.Shutdown()

	disk.SetFree(8 << 20)
	srv, js = start()
	defer srv.Shutdown()
	cfg.Server = srv
	st := queue.NewStoreWatch(js, cfg).Check(ctx)
	if st.StagedLimit >= before.StagedLimit || st.StagedLimit > 4<<20 {
		t.Errorf("staging limit %d after the restart on a smaller disk (%d before); want it lowered to the room there is", st.StagedLimit, before.StagedLimit)
	}
	if err := queue.Ensure(ctx, js, queue.Topology{}); err != nil {
		t.Errorf("ensuring the topology again: %v", err)
	}
}
