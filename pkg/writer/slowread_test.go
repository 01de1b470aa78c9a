package writer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/writer"
	spxv1 "github.com/spx-archive/spx/proto/spx/v1"
)

// slowArchive reads its input in small pieces with pauses, like a converter
// busy encoding a large expiration.
type slowArchive struct {
	fakeArchive
	pause time.Duration
}

func (a slowArchive) WriteFile(ctx context.Context, ds spx.Dataset, in io.Reader, name string) (writer.File, error) {
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return writer.File{}, err
		}
		time.Sleep(a.pause)
	}
	return a.fakeArchive.WriteFile(ctx, ds, &got, name)
}

// A staged object whose conversion takes longer than the object store's own
// 5 s default must still be read whole (it used to fail with "nats:
// timeout" on every delivery, so large expirations could never be written).
func TestWriterSlowConversion(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 7 s")
	}
	_, nc, js := queuetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := queue.Ensure(ctx, js, queue.Topology{Memory: true, WriteAckWait: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	store, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 1, 2), Expiration: spx.NewDate(2024, 1, 3)}
	// ~1.4 MB of incompressible lines: about 22 reads of 64 KiB.
	var ndjson bytes.Buffer
	// (decimal digits only: the fake archive fails a line containing "bad")
	for range 11000 {
		b := make([]byte, 48)
		rand.Read(b)
		ndjson.WriteString("{\"x\":" + new(big.Int).SetBytes(b).String() + "}\n")
	}
	stage(t, store, key, ndjson.Bytes(), "")

	sub, err := nc.SubscribeSync("spx.event.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishWrite(ctx, js, &spxv1.WriteJob{Key: queue.KeyToProto(key), Generation: 1, Object: key.ObjectName()}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	svc := writer.New(js, slowArchive{fakeArchive: fakeArchive{dir: out}, pause: 300 * time.Millisecond}, writer.Config{OutputDir: out, Workers: 1})
	go svc.Run(ctx)

	m, err := sub.NextMsg(60 * time.Second)
	if err != nil {
		t.Fatalf("no event: %v", err)
	}
	ev, _, err := queue.DecodeEvent(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetKind() != spxv1.EventKind_EVENT_KIND_WRITTEN {
		t.Fatalf("event %v (%s), want written", ev.GetKind(), ev.GetErrorMessage())
	}
	b, err := os.ReadFile(filepath.Join(out, key.RelPath()))
	if err != nil || !bytes.Equal(b, ndjson.Bytes()) {
		t.Fatalf("written file differs from the staged NDJSON (%d vs %d bytes, %v)", len(b), ndjson.Len(), err)
	}
}
