package writer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/writer"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// fakeArchive copies the NDJSON to the file name under dir (tmp then
// rename) and counts lines; a line "bad" fails permanently; input
// containing "reopen" is read a second time through Reopen, as the archive
// does with unsorted input.
type fakeArchive struct{ dir string }

func (a fakeArchive) Location(name string) string {
	return filepath.Join(a.dir, filepath.FromSlash(name))
}

func (a fakeArchive) Remove(_ context.Context, name string) error { return os.Remove(a.Location(name)) }

func (a fakeArchive) WriteFile(ctx context.Context, _ spx.Dataset, in io.Reader, name string) (writer.File, error) {
	path := a.Location(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return writer.File{}, err
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return writer.File{}, err
	}
	if bytes.Contains(b, []byte("reopen")) {
		r, ok := in.(interface {
			Reopen(context.Context) (io.Reader, error)
		})
		if !ok {
			return writer.File{}, errors.New("the staged input cannot be reopened")
		}
		again, err := r.Reopen(ctx)
		if err != nil {
			return writer.File{}, err
		}
		if b, err = io.ReadAll(again); err != nil {
			return writer.File{}, err
		}
	}
	if bytes.Contains(b, []byte("bad")) {
		return writer.File{}, spx.Permanent(errors.New("line 1: not JSON: \"bad\""))
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return writer.File{}, err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return writer.File{}, err
	}
	sum := sha256.Sum256(b)
	return writer.File{Rows: int64(bytes.Count(b, []byte("\n"))), Bytes: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, nil
}

func stage(t *testing.T, store jetstream.ObjectStore, key spx.JobKey, ndjson []byte, sha string) {
	t.Helper()
	stageCodec(t, store, key, ndjson, sha, "zstd")
}

// stageCodec stages ndjson compressed with codec: zstd, s2 or raw (none,
// which no fetcher writes).
func stageCodec(t *testing.T, store jetstream.ObjectStore, key spx.JobKey, ndjson []byte, sha, codec string) {
	t.Helper()
	stageNamed(t, store, key.ObjectName(), ndjson, sha, codec)
}

func stageNamed(t *testing.T, store jetstream.ObjectStore, name string, ndjson []byte, sha, codec string) {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case "zstd":
		zw, _ := zstd.NewWriter(&buf)
		zw.Write(ndjson)
		zw.Close()
	case "s2":
		sw := s2.NewWriter(&buf)
		sw.Write(ndjson)
		sw.Close()
	default:
		buf.Write(ndjson)
	}
	if sha == "" {
		sum := sha256.Sum256(ndjson)
		sha = hex.EncodeToString(sum[:])
	}
	meta := jetstream.ObjectMeta{Name: name, Metadata: map[string]string{
		"sha256": sha, "rows": strconv.Itoa(bytes.Count(ndjson, []byte("\n")))}}
	if _, err := store.Put(context.Background(), meta, &buf); err != nil {
		t.Fatal(err)
	}
}

func TestWriter(t *testing.T) {
	_, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true, WriteAckWait: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	day := spx.NewDate(2024, 1, 2)
	key := func(d int) spx.JobKey {
		return spx.JobKey{Dataset: spx.Greeks, Root: "SPX", Date: day, Expiration: spx.NewDate(2024, 1, d)}
	}
	good := []byte("{\"a\":1}\n{\"a\":2}\n")
	stage(t, store, key(3), good, "")
	stage(t, store, key(4), good, "0000") // digest mismatch
	// key(5) is never staged: missing object
	stage(t, store, key(6), []byte("bad\n"), "")
	reopened := []byte("{\"reopen\":1}\n{\"a\":2}\n{\"a\":3}\n")
	stage(t, store, key(7), reopened, "")
	stageCodec(t, store, key(8), good, "", "s2")
	stageCodec(t, store, key(9), good, "", "raw") // no codec: refetch
	// A job from a fetcher of an older spx names its object .ndjson.zst.
	legacy := strings.TrimSuffix(key(10).ObjectName(), ".s2") + ".zst"
	stageNamed(t, store, legacy, good, "", "zstd")

	sub, err := nc.SubscribeSync("spx.event.>")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{3, 4, 5, 6, 7, 8, 9, 10} {
		object := key(d).ObjectName()
		if d == 10 {
			object = legacy
		}
		if err := queue.PublishWrite(ctx, js, &spxv1.WriteJob{Key: queue.KeyToProto(key(d)), Generation: 1, Object: object}); err != nil {
			t.Fatal(err)
		}
	}
	svc := writer.New(js, fakeArchive{dir: out}, writer.Config{OutputDir: out, Workers: 2})
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	got := map[int]*spxv1.Event{}
	for len(got) < 8 {
		m, err := sub.NextMsg(15 * time.Second)
		if err != nil {
			t.Fatalf("waiting for events: %v (have %v)", err, got)
		}
		ev, k, err := queue.DecodeEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		_, _, d := k.Expiration.YMD()
		got[d] = ev
	}
	want := map[int]spxv1.EventKind{3: spxv1.EventKind_EVENT_KIND_WRITTEN, 4: spxv1.EventKind_EVENT_KIND_REFETCH,
		5: spxv1.EventKind_EVENT_KIND_REFETCH, 6: spxv1.EventKind_EVENT_KIND_FAILED, 7: spxv1.EventKind_EVENT_KIND_WRITTEN,
		8: spxv1.EventKind_EVENT_KIND_WRITTEN, 9: spxv1.EventKind_EVENT_KIND_REFETCH, 10: spxv1.EventKind_EVENT_KIND_WRITTEN}
	for d, k := range want {
		if got[d].GetKind() != k {
			t.Errorf("exp %d: event %v (%s), want %v", d, got[d].GetKind(), got[d].GetErrorMessage(), k)
		}
	}
	if ev := got[3]; ev.GetRows() != 2 || ev.GetFile() != key(3).RelPath() {
		t.Errorf("written event: %+v", ev)
	}
	for _, d := range []int{3, 8, 10} {
		if b, err := os.ReadFile(filepath.Join(out, key(d).RelPath())); err != nil || !bytes.Equal(b, good) {
			t.Errorf("exp %d: written file %q, %v", d, b, err)
		}
	}
	if msg := got[9].GetErrorMessage(); !strings.Contains(msg, "neither zstd nor s2") {
		t.Errorf("an object in no codec: %q", msg)
	}
	if b, err := os.ReadFile(filepath.Join(out, key(7).RelPath())); err != nil || !bytes.Equal(b, reopened) || got[7].GetRows() != 3 {
		t.Errorf("reopened input: file %q, %v, rows %d", b, err, got[7].GetRows())
	}
	for _, d := range []int{4, 6} {
		if _, err := os.Stat(filepath.Join(out, key(d).RelPath())); !os.IsNotExist(err) {
			t.Errorf("exp %d: a file was left in place (err %v)", d, err)
		}
	}
	if got[6].GetErrorClass() != "permanent" || got[6].GetErrorMessage() == "" {
		t.Errorf("failed event: %+v", got[6])
	}
	// The staged object of a written job is deleted, under the job's name.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := store.GetInfo(ctx, key(3).ObjectName())
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			_, err = store.GetInfo(ctx, legacy)
		}
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("staged object still there: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	depth, err := queue.Depth(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if depth[1].Pending != 0 || depth[1].InFlight != 0 {
		t.Errorf("write queue not drained: %+v", depth[1])
	}
	cancel()
	<-done
}
