package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/queue/queuetest"
	"github.com/spx-archive/spx/pkg/spx"
)

func TestDecide(t *testing.T) {
	p := queue.Policy{Base: time.Second, Max: 4 * time.Second}
	tests := []struct {
		name     string
		err      error
		delivery uint64
		want     queue.Decision
	}{
		{"ok", nil, 1, queue.Decision{Action: queue.Ack, Class: spx.ClassOK}},
		{"no data", spx.ErrNoData, 1, queue.Decision{Action: queue.Ack, Class: spx.ClassEmpty, Outcome: spx.JobEmpty}},
		{"transient first", spx.Transient(errors.New("429")), 1, queue.Decision{Action: queue.Nak, Class: spx.ClassTransient, Delay: time.Second}},
		{"transient third", spx.Transient(errors.New("429")), 3, queue.Decision{Action: queue.Nak, Class: spx.ClassTransient, Delay: 4 * time.Second}},
		{"transient capped", spx.Transient(errors.New("429")), 9, queue.Decision{Action: queue.Nak, Class: spx.ClassTransient, Delay: 4 * time.Second}},
		{"split", spx.WithClass(spx.ClassSplit, errors.New("570")), 1, queue.Decision{Action: queue.Term, Class: spx.ClassSplit, Outcome: spx.JobFailed}},
		{"permanent", spx.Permanent(errors.New("471")), 1, queue.Decision{Action: queue.Term, Class: spx.ClassPermanent, Outcome: spx.JobFailed}},
		{"unknown is permanent", errors.New("boom"), 1, queue.Decision{Action: queue.Term, Class: spx.ClassPermanent, Outcome: spx.JobFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := queue.Decide(tt.err, tt.delivery, p); got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRetryTransient(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := queue.RetryTransient(ctx, 3, time.Millisecond, func(context.Context) error {
		calls++
		if calls < 3 {
			return spx.Transient(errors.New("cut"))
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls)
	}
	calls = 0
	err = queue.RetryTransient(ctx, 3, time.Millisecond, func(context.Context) error {
		calls++
		return spx.Permanent(errors.New("471"))
	})
	if spx.ClassOf(err) != spx.ClassPermanent || calls != 1 {
		t.Fatalf("permanent: err %v after %d calls, want permanent after 1", err, calls)
	}
	calls = 0
	err = queue.RetryTransient(ctx, 2, time.Millisecond, func(context.Context) error {
		calls++
		return spx.Transient(errors.New("429"))
	})
	if spx.ClassOf(err) != spx.ClassTransient || calls != 3 {
		t.Fatalf("budget: err %v after %d calls, want transient after 3", err, calls)
	}
}

// RetryTransientFor keeps going for its duration (a terminal disconnected
// for a while), not for a count, and gives the last error back after it.
func TestRetryTransientFor(t *testing.T) {
	ctx := context.Background()
	calls := 0
	start := time.Now()
	err := queue.RetryTransientFor(ctx, 2*time.Second, time.Millisecond, 20*time.Millisecond, func(context.Context) error {
		calls++
		if time.Since(start) < 300*time.Millisecond {
			return spx.Transient(errors.New("474 DISCONNECTED"))
		}
		return nil
	})
	if err != nil || calls < 5 {
		t.Fatalf("err %v after %d calls; want success after a 300 ms outage, retried many times", err, calls)
	}
	start = time.Now()
	err = queue.RetryTransientFor(ctx, 200*time.Millisecond, time.Millisecond, 20*time.Millisecond, func(context.Context) error {
		return spx.Transient(errors.New("571 SERVER_STARTING"))
	})
	if spx.ClassOf(err) != spx.ClassTransient || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %s; want the transient error back after about 200 ms", err, time.Since(start))
	}
}

func TestTopologyAndPublish(t *testing.T) {
	srv, _, js := queuetest.Start(t)
	ctx := context.Background()
	topo := queue.Topology{Concurrency: 2, FetchAckWait: 2 * time.Second, FetchMaxDeliver: 3}
	for range 2 { // idempotent
		if err := queue.Ensure(ctx, js, topo); err != nil {
			t.Fatal(err)
		}
	}
	if err := queue.WaitTopology(ctx, js); err != nil {
		t.Fatal(err)
	}
	key := spx.JobKey{Dataset: spx.Greeks, Root: "SPXW", Date: spx.NewDate(2024, 1, 2), Expiration: spx.NewDate(2024, 1, 5)}
	if err := queue.PublishFetch(ctx, js, key, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishFetch(ctx, js, key, 1, time.Minute); err != nil {
		t.Fatalf("duplicate publish should be dropped silently: %v", err)
	}
	if err := queue.PublishFetch(ctx, js, key, 2, time.Minute); !errors.Is(err, queue.ErrAlreadyQueued) {
		t.Fatalf("second generation while queued: err %v, want ErrAlreadyQueued", err)
	}
	depth, err := queue.Depth(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if depth[0].Stage != "fetch" || depth[0].Pending != 1 || depth[1].Pending != 0 {
		t.Fatalf("depth = %+v, want 1 pending fetch", depth)
	}

	// The monitoring endpoint shows the waiting job too.
	resp, err := http.Get(srv.MonitorURL() + "/jsz?consumers=true")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var jsz struct {
		AccountDetails []struct {
			StreamDetail []struct {
				Name     string `json:"name"`
				Consumer []struct {
					Name       string `json:"name"`
					NumPending uint64 `json:"num_pending"`
				} `json:"consumer_detail"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.Unmarshal(body, &jsz); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range jsz.AccountDetails {
		for _, s := range a.StreamDetail {
			for _, c := range s.Consumer {
				if s.Name == queue.StreamFetch && c.Name == queue.ConsumerFetchers && c.NumPending == 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatalf("/jsz does not show 1 pending on fetchers: %s", body)
	}

	if err := queue.PurgeJob(ctx, js, queue.StreamFetch, key.FetchSubject()); err != nil {
		t.Fatal(err)
	}
	if err := queue.PublishFetch(ctx, js, key, 2, time.Minute); err != nil {
		t.Fatalf("after purge, new generation: %v", err)
	}
}
