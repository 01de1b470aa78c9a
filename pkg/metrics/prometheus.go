package metrics

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// latencyBuckets are the upper bounds (seconds) of the terminal latency
// histogram: the time to the terminal's first response header.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) histogram {
	return histogram{bounds: bounds, counts: make([]uint64, len(bounds))}
}

func (h *histogram) observe(v float64) {
	h.sum += v
	h.n++
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
}

// DepthFunc reads the queue depth at scrape time (queue.Depth on a
// JetStream context).
type DepthFunc func(ctx context.Context) ([]queue.StageDepth, error)

// JetStreamDepth is a DepthFunc over js.
func JetStreamDepth(js jetstream.JetStream) DepthFunc {
	return func(ctx context.Context) ([]queue.StageDepth, error) { return queue.Depth(ctx, js) }
}

// Handler serves the Prometheus text exposition format (version 0.0.4).
func (c *Collector) Handler(depth DepthFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var stages []queue.StageDepth
		var derr error
		if depth != nil {
			stages, derr = depth(ctx)
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		c.WriteText(w, stages, derr)
	})
}

// WriteText writes every metric in the text exposition format; stages are
// the queue depths read for this scrape (depthErr when reading them failed).
func (c *Collector) WriteText(out io.Writer, stages []queue.StageDepth, depthErr error) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	workers := c.Workers()
	c.mu.Lock()
	defer c.mu.Unlock()

	family(w, "spx_jobs_total", "counter", "Job events seen by the coordinator, by outcome (staged, written, empty, failed, refetch, ...).")
	for _, k := range sortedKeys(c.jobs) {
		sample(w, "spx_jobs_total", c.jobs[k], "outcome", k)
	}
	family(w, "spx_rows_written_total", "counter", "Rows written to Parquet.")
	sample(w, "spx_rows_written_total", c.rows)
	family(w, "spx_bytes_written_total", "counter", "Parquet bytes written.")
	sample(w, "spx_bytes_written_total", c.bytes)

	family(w, "spx_errors_total", "counter", "Failed job attempts by error class and stage.")
	keys := make([][2]string, 0, len(c.errs))
	for k := range c.errs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmpString(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	for _, k := range keys {
		sample(w, "spx_errors_total", c.errs[k], "class", k[0], "stage", k[1])
	}

	family(w, "spx_terminal_latency_seconds", "histogram", "Time to the Theta Terminal's first response header, per fetched job.")
	var cum uint64
	for i, b := range c.latency.bounds {
		cum += c.latency.counts[i]
		sample(w, "spx_terminal_latency_seconds_bucket", cum, "le", strconv.FormatFloat(b, 'g', -1, 64))
	}
	sample(w, "spx_terminal_latency_seconds_bucket", c.latency.n, "le", "+Inf")
	sample(w, "spx_terminal_latency_seconds_sum", c.latency.sum)
	sample(w, "spx_terminal_latency_seconds_count", c.latency.n)

	if c.terminal != nil {
		if t := c.terminal(); t != nil {
			up := 0
			if t.State == spx.TerminalUp {
				up = 1
			}
			family(w, "spx_terminal_up", "gauge", "1 while the Theta Terminal answers CONNECTED; planning and fetching wait while it is 0.")
			sample(w, "spx_terminal_up", up)
			family(w, "spx_terminal_state", "gauge", "1 for the Theta Terminal's current state (up, starting, disconnected, down, unknown).")
			for _, s := range spx.TerminalStates {
				v := 0
				if s == t.State {
					v = 1
				}
				sample(w, "spx_terminal_state", v, "state", s)
			}
			family(w, "spx_terminal_state_since_timestamp_seconds", "gauge", "When the Theta Terminal entered its current state (Unix time).")
			sample(w, "spx_terminal_state_since_timestamp_seconds", float64(t.Since.UnixMilli())/1000)
		}
	}

	if c.natsStore != nil {
		if st := c.natsStore(); st != nil {
			full := 0
			if st.Full {
				full = 1
			}
			family(w, "spx_nats_store_full", "gauge", "1 while the NATS store has no room for staged objects: fetchers take no job (none is used up) until writers make room or space is freed.")
			sample(w, "spx_nats_store_full", full)
			family(w, "spx_nats_store_state_since_timestamp_seconds", "gauge", "When the NATS store last became full or had room again (Unix time).")
			sample(w, "spx_nats_store_state_since_timestamp_seconds", float64(st.Since.UnixMilli())/1000)
			family(w, "spx_nats_staged_bytes", "gauge", "Bytes in the staging bucket (staged objects waiting for writers).")
			sample(w, "spx_nats_staged_bytes", st.Staged)
			if st.StagedLimit > 0 {
				family(w, "spx_nats_staged_limit_bytes", "gauge", "The staging bucket's limit: the room the disk and the store's limit leave.")
				sample(w, "spx_nats_staged_limit_bytes", st.StagedLimit)
			}
			if st.Limit > 0 {
				family(w, "spx_nats_store_used_bytes", "gauge", "JetStream file storage in use (embedded server).")
				sample(w, "spx_nats_store_used_bytes", st.Used)
				family(w, "spx_nats_store_limit_bytes", "gauge", "JetStream file storage limit (max_storage), raised as the disk under nats.store_dir has more room.")
				sample(w, "spx_nats_store_limit_bytes", st.Limit)
				family(w, "spx_nats_store_disk_free_bytes", "gauge", "Free space of the disk under nats.store_dir.")
				sample(w, "spx_nats_store_disk_free_bytes", st.DiskFree)
			}
		}
	}

	family(w, "spx_queue_depth_up", "gauge", "1 when the queue depth could be read from JetStream for this scrape.")
	if depthErr != nil || stages == nil {
		sample(w, "spx_queue_depth_up", 0)
	} else {
		sample(w, "spx_queue_depth_up", 1)
	}
	for _, g := range []struct {
		name, help string
		v          func(queue.StageDepth) uint64
	}{
		{"spx_queue_pending", "Jobs waiting in a stage, not delivered yet.", func(d queue.StageDepth) uint64 { return d.Pending }},
		{"spx_queue_in_flight", "Jobs delivered to a worker and not acknowledged.", func(d queue.StageDepth) uint64 { return uint64(d.InFlight) }},
		{"spx_queue_redelivered", "In-flight jobs delivered more than once.", func(d queue.StageDepth) uint64 { return uint64(d.Redelivered) }},
		{"spx_queue_dead", "Dead letters (MaxDeliver reached) retained in SPX_DLQ.", func(d queue.StageDepth) uint64 { return d.Dead }},
	} {
		family(w, g.name, "gauge", g.help)
		for _, d := range stages {
			sample(w, g.name, g.v(d), "stage", d.Stage)
		}
	}

	family(w, "spx_workers_connected", "gauge", "Worker processes heard from within three heartbeats, by role.")
	connected := map[string]int{"fetch": 0, "write": 0}
	for _, wk := range workers {
		if wk.Connected {
			connected[wk.Role]++
		}
	}
	for _, r := range sortedKeys(connected) {
		sample(w, "spx_workers_connected", connected[r], "role", r)
	}
	family(w, "spx_worker_jobs_done_total", "counter", "Jobs a worker process finished (staged, empty or written) since the coordinator started.")
	for _, wk := range workers {
		sample(w, "spx_worker_jobs_done_total", wk.JobsDone, "name", wk.Name, "host", wk.Host, "role", wk.Role)
	}
	family(w, "spx_worker_last_seen_timestamp_seconds", "gauge", "When a worker process was last heard from (Unix time).")
	for _, wk := range workers {
		sample(w, "spx_worker_last_seen_timestamp_seconds", float64(wk.LastSeen.UnixMilli())/1000, "name", wk.Name, "host", wk.Host, "role", wk.Role)
	}
}

func family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func sample[V int | int64 | uint64 | float64](w io.Writer, name string, v V, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	var s string
	switch x := any(v).(type) {
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		s = fmt.Sprint(x)
	}
	fmt.Fprintf(w, "%s %s\n", b.String(), s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
