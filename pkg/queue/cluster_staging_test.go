package queue_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterStagingReplicas measures putting and reading back one large
// staged object (incompressible, like the zstd NDJSON fetchers stage) in
// object stores of 1 and 3 replicas on a three-node cluster. It is a
// measurement, not a unit test: it runs with SPX_CLUSTER_TEST=1 (make
// test-cluster) and logs the times; SPX_STAGING_MB sets the size (256).
func TestClusterStagingReplicas(t *testing.T) {
	if os.Getenv("SPX_CLUSTER_TEST") == "" {
		t.Skip("set SPX_CLUSTER_TEST=1 to measure large objects on a replicated cluster")
	}
	mb := 256
	if v, err := strconv.Atoi(os.Getenv("SPX_STAGING_MB")); err == nil && v > 0 {
		mb = v
	}
	nodes := startCluster(t)
	nc, err := nats.Connect(nodes[0].ClientURL() + "," + nodes[1].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	payload := make([]byte, mb<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	for _, replicas := range []int{1, 3} {
		for _, chunk := range []uint32{128 << 10, 512 << 10, 1 << 20} {
			name := fmt.Sprintf("r%d-c%d", replicas, chunk>>10)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			os, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "stage-" + name, Replicas: replicas, Storage: jetstream.FileStorage})
			if err != nil {
				cancel()
				t.Fatalf("%s: %v", name, err)
			}
			start := time.Now()
			_, err = os.Put(ctx, jetstream.ObjectMeta{Name: "obj", Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunk}}, bytes.NewReader(payload))
			put := time.Since(start)
			if err != nil {
				cancel()
				t.Errorf("%s: put %d MiB: %v after %s", name, mb, err, put)
				continue
			}
			start = time.Now()
			r, err := os.Get(ctx, "obj")
			if err != nil {
				cancel()
				t.Errorf("%s: get: %v", name, err)
				continue
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			r.Close()
			get := time.Since(start)
			cancel()
			if err != nil || n != int64(len(payload)) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("%s: read back %d bytes, err %v, digest ok %v", name, n, err, bytes.Equal(h.Sum(nil), want[:]))
				continue
			}
			t.Logf("replicas %d chunk %4d KiB: put %d MiB in %s (%.0f MiB/s), get in %s (%.0f MiB/s)", replicas, chunk>>10, mb,
				put.Round(time.Millisecond), float64(mb)/put.Seconds(), get.Round(time.Millisecond), float64(mb)/get.Seconds())
		}
	}
}
