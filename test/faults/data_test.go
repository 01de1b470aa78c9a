package faults

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
)

// Scenario 6: a staged object corrupted in the bucket (its chunk replaced,
// so the object store's digest no longer matches) is detected by the
// writer and fetched again.
func TestCorruptStagedObject(t *testing.T) {
	c := newCluster(t, clusterOptions{})
	coord := c.coordinator()
	c.fetcher(2)
	done := make(chan struct{})
	var out string
	var code int
	go func() {
		defer close(done)
		out, code = c.process("2024-03-04", "2024-03-04", 2*time.Minute)
	}()

	nc, err := nats.Connect(c.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, err := js.ObjectStore(ctx, queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until every job is staged (no writer runs yet).
	var infos []*jetstream.ObjectInfo
	for {
		infos, _ = obs.List(ctx)
		staged := 0
		for _, i := range infos {
			if i.Metadata["rows"] != "" {
				staged++
			}
		}
		if staged == 4 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d objects staged", staged)
		}
		time.Sleep(50 * time.Millisecond)
	}
	victim := infos[0]
	stream, err := js.Stream(ctx, "OBJ_"+queue.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	subj := "$O." + queue.Bucket + ".C." + victim.NUID
	msg, err := stream.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		t.Fatal(err)
	}
	// The last chunk, changed and put back in place (it stays last), so
	// the object reads to the end with a digest that does not match.
	data := append([]byte(nil), msg.Data...)
	data[len(data)/2] ^= 0xff
	if err := stream.DeleteMsg(ctx, msg.Sequence); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, subj, data); err != nil {
		t.Fatal(err)
	}
	before := c.stats().historyRequests()["200"]
	injected := time.Now()
	c.writer(1)
	<-done
	if code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	t.Logf("corrupt %s: recovered in %s", victim.Name, time.Since(injected).Round(time.Millisecond))
	coord.stop(t)
	jobs := c.check(twoDays[:1], false)
	if after := c.stats().historyRequests()["200"]; after != before+1 {
		t.Errorf("history 200s went from %d to %d, want one refetch", before, after)
	}
	gen := map[bool]int{} // victim? → highest generation
	for _, j := range jobs {
		v := j.Key.ObjectName() == victim.Name
		gen[v] = max(gen[v], j.Generation)
	}
	if gen[true] <= gen[false] {
		t.Errorf("the corrupted job has generation %d, the others %d: want a new generation for the refetch", gen[true], gen[false])
	}
}

// Scenario 7: a Parquet file corrupted or deleted after the fact: verify
// reports both; retry <date> repairs them.
func TestCorruptAndDeletedParquet(t *testing.T) {
	c := newCluster(t, clusterOptions{})
	coord := c.coordinator()
	c.fetcher(2)
	c.writer(1)
	if out, code := c.process("2024-03-04", "2024-03-04", 2*time.Minute); code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	coord.stop(t)
	jobs := c.check(twoDays[:1], false)
	corrupt := filepath.Join(c.out, filepath.FromSlash(jobs[0].Key.RelPath()))
	deleted := filepath.Join(c.out, filepath.FromSlash(jobs[1].Key.RelPath()))
	b, err := os.ReadFile(corrupt)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(corrupt, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(deleted); err != nil {
		t.Fatal(err)
	}
	out, code := c.cli(time.Minute, "verify", "--from", "2024-03-04", "--to", "2024-03-04")
	if code != 1 || !strings.Contains(out, filepath.Base(filepath.Dir(corrupt))) || !strings.Contains(out, jobs[0].Key.String()) || !strings.Contains(out, jobs[1].Key.String()) {
		t.Fatalf("verify exit %d, want 1 naming %s and %s:\n%s", code, jobs[0].Key, jobs[1].Key, out)
	}
	t.Logf("verify says:\n%s", out)

	coord = c.coordinator()
	injected := time.Now()
	out, code = c.cli(2*time.Minute, "retry", "2024-03-04", "--nats", c.natsURL, "--log-level", "warn")
	if code != 0 {
		t.Fatalf("retry exit %d:\n%s", code, out)
	}
	t.Logf("repaired in %s: %s", time.Since(injected).Round(time.Millisecond), strings.TrimSpace(out))
	coord.stop(t)
	c.check(twoDays[:1], false)
}
