package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/queue"
	"github.com/spx-archive/spx/pkg/spx"
)

// APIPrefix is the subject prefix of the control API.
const APIPrefix = "spx.api"

// Requests and replies of the control API (JSON).
type (
	// RangeRequest selects trade dates; zero bounds mean the defaults.
	RangeRequest struct {
		From       spx.Date `json:"from,omitzero"`
		To         spx.Date `json:"to,omitzero"`
		FailedOnly bool     `json:"failed_only,omitempty"`
	}
	// EnqueueRequest asks for dates, a range, or every gap.
	EnqueueRequest struct {
		Dates []spx.Date `json:"dates,omitempty"`
		From  spx.Date   `json:"from,omitzero"`
		To    spx.Date   `json:"to,omitzero"`
		Gaps  bool       `json:"gaps,omitempty"` // only the gap days of [From, To]
	}
	// ProgressRequest names the days to report on.
	ProgressRequest struct {
		Dates []spx.Date `json:"dates"`
	}
	// DayProgress is one day's progress.
	DayProgress struct {
		Day      spx.DayRecord `json:"day"`
		Jobs     int           `json:"jobs"`
		Done     int           `json:"done"`
		Failed   int           `json:"failed"`
		Rows     int64         `json:"rows"`  // staged or written so far
		Bytes    int64         `json:"bytes"` // Parquet bytes written
		Finished bool          `json:"finished"`
		Errors   []string      `json:"errors,omitempty"` // job: last error, for failed/dead jobs
	}
	// StatusReply summarises the archive and the queues.
	StatusReply struct {
		Days   map[spx.DayStatus]int `json:"days"`
		Depth  []queue.StageDepth    `json:"depth"`
		Errors []spx.ErrorEntry      `json:"errors"`
		// Database is the absolute path of the status database this
		// coordinator holds (empty if its store does not say), so a CLI that
		// finds its own database locked can tell whether this coordinator is
		// the one holding it.
		Database string `json:"database,omitempty"`
		// Terminal is the Theta Terminal as this coordinator sees it (nil
		// when it is not watched here).
		Terminal *spx.TerminalStatus `json:"terminal,omitempty"`
		// NATSStore says whether the NATS store has room for staged
		// objects (nil when it is not watched here).
		NATSStore *spx.NATSStore `json:"nats_store,omitempty"`
		// Follow says when the next session is enqueued by itself (nil:
		// the coordinator does not follow the calendar).
		Follow *spx.FollowStatus `json:"follow,omitempty"`
	}
	// ConfigRequest reads (Value empty) or sets a stored configuration key.
	ConfigRequest struct {
		Key   string `json:"key,omitempty"`
		Value string `json:"value,omitempty"`
	}
)

// Progress reports jobs done/total, rows and bytes for each date.
func (s *Service) Progress(ctx context.Context, dates []spx.Date) ([]DayProgress, error) {
	out := make([]DayProgress, 0, len(dates))
	for _, d := range dates {
		day, _, err := s.store.Day(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("reading day %s: %w", d, err)
		}
		day.Date = d
		jobs, err := s.store.JobsForDate(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("reading jobs of %s: %w", d, err)
		}
		p := DayProgress{Day: day, Jobs: len(jobs)}
		for _, j := range jobs {
			switch {
			case j.Outcome.Done():
				p.Done++
			case j.Outcome == spx.JobFailed || j.Outcome == spx.JobDead:
				p.Failed++
				p.Errors = append(p.Errors, j.Key.String()+" ("+string(j.Outcome)+"): "+j.LastError)
			}
			p.Rows += j.Rows
			p.Bytes += j.Bytes
		}
		p.Finished = day.Status.Complete() || day.Status == spx.DayFailed || day.Status == spx.DayPartial
		out = append(out, p)
	}
	return out, nil
}

// Status summarises day statuses, queue depth and the latest errors.
func (s *Service) Status(ctx context.Context) (StatusReply, error) {
	days, err := s.store.Days(ctx, 0, 0)
	if err != nil {
		return StatusReply{}, fmt.Errorf("reading days: %w", err)
	}
	r := StatusReply{Days: map[spx.DayStatus]int{}}
	if p, ok := s.store.(interface{ Path() string }); ok {
		if abs, err := filepath.Abs(p.Path()); err == nil {
			r.Database = abs
		}
	}
	for _, d := range days {
		r.Days[d.Status]++
	}
	if s.cfg.Terminal != nil {
		r.Terminal = s.cfg.Terminal()
	}
	if s.cfg.NATSStore != nil {
		r.NATSStore = s.cfg.NATSStore()
	}
	r.Follow = s.FollowStatus()
	if r.Depth, err = queue.Depth(ctx, s.js); err != nil {
		return r, err
	}
	if r.Errors, err = s.store.Errors(ctx, 10); err != nil {
		return r, fmt.Errorf("reading the error log: %w", err)
	}
	return r, nil
}

func (s *Service) serveAPI(ctx context.Context) (micro.Service, error) {
	svc, err := micro.AddService(s.nc, micro.Config{Name: "spx", Version: s.cfg.Version,
		Description: "spx coordinator control API"})
	if err != nil {
		return nil, fmt.Errorf("starting the control API: %w", err)
	}
	g := svc.AddGroup(APIPrefix)
	endpoints := map[string]func(ctx context.Context, data []byte) (any, error){
		"status": func(ctx context.Context, _ []byte) (any, error) { return s.Status(ctx) },
		"list": func(ctx context.Context, data []byte) (any, error) {
			var req RangeRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			days, err := s.store.Days(ctx, req.From, req.To)
			if err != nil {
				return nil, err
			}
			if req.FailedOnly {
				days = slices.DeleteFunc(days, func(d spx.DayRecord) bool { return d.Status != spx.DayFailed && d.Status != spx.DayPartial })
			}
			return days, nil
		},
		"jobs": func(ctx context.Context, data []byte) (any, error) {
			var f spx.JobFilter
			if err := decode(data, &f); err != nil {
				return nil, err
			}
			return s.store.Jobs(ctx, f)
		},
		"gaps": func(ctx context.Context, data []byte) (any, error) {
			var req RangeRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			return s.Gaps(ctx, req.From, req.To)
		},
		"enqueue": func(ctx context.Context, data []byte) (any, error) {
			var req EnqueueRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			dates, err := s.resolveDates(ctx, req)
			if err != nil {
				return nil, err
			}
			return s.Enqueue(ctx, dates)
		},
		"retry": func(ctx context.Context, data []byte) (any, error) {
			var req RetryRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			return s.Retry(ctx, req)
		},
		"progress": func(ctx context.Context, data []byte) (any, error) {
			var req ProgressRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			return s.Progress(ctx, req.Dates)
		},
		"config-get": func(ctx context.Context, data []byte) (any, error) {
			var req ConfigRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			return s.store.AllConfig(ctx)
		},
		"config-set": func(ctx context.Context, data []byte) (any, error) {
			var req ConfigRequest
			if err := decode(data, &req); err != nil {
				return nil, err
			}
			if err := config.ValidateValue(req.Key, req.Value); err != nil {
				return nil, err
			}
			return map[string]string{req.Key: req.Value}, s.store.SetConfig(ctx, req.Key, req.Value)
		},
	}
	subjects := map[string]string{"config-get": "config.get", "config-set": "config.set"}
	for name, fn := range endpoints {
		subject := name
		if v, ok := subjects[name]; ok {
			subject = v
		}
		h := micro.HandlerFunc(func(req micro.Request) {
			// Each request gets its own deadline; the planner may take a while.
			ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
			defer cancel()
			v, err := fn(ctx, req.Data())
			if err != nil {
				code := "500"
				if spx.IsRefused(err) {
					code = refusedCode // the request, not a fault: nothing was recorded
				}
				_ = req.Error(code, err.Error(), nil)
				return
			}
			_ = req.RespondJSON(v)
		})
		if err := g.AddEndpoint(name, h, micro.WithEndpointSubject(subject)); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("adding control API endpoint %s: %w", name, err)
		}
	}
	return svc, nil
}

func decode(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	return nil
}

// refusedCode is the control API's error code for a refused request
// (*spx.RefusedError); the client gives the same error back.
const refusedCode = "400"

// Client calls the coordinator's control API.
type Client struct {
	nc *nats.Conn
}

// NewClient returns a control API client on nc.
func NewClient(nc *nats.Conn) *Client { return &Client{nc: nc} }

// ErrNoCoordinator means no coordinator answered.
var ErrNoCoordinator = errors.New("no coordinator answered on this NATS server: start one (spx run or spx coordinator)")

func (c *Client) call(ctx context.Context, endpoint string, req, reply any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Minute)
		defer cancel()
	}
	msg, err := c.nc.RequestWithContext(ctx, APIPrefix+"."+endpoint, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return ErrNoCoordinator
	}
	if err != nil {
		return fmt.Errorf("calling the coordinator (%s): %w", endpoint, err)
	}
	if e := msg.Header.Get(micro.ErrorHeader); e != "" {
		if msg.Header.Get(micro.ErrorCodeHeader) == refusedCode {
			return &spx.RefusedError{Msg: e}
		}
		return fmt.Errorf("coordinator: %s", e)
	}
	if reply == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("reading the coordinator's %s reply: %w", endpoint, err)
	}
	return nil
}

// Ping checks that a coordinator answers within timeout.
func (c *Client) Ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var r StatusReply
	return c.call(ctx, "status", nil, &r)
}

// Status returns day counts, queue depth and recent errors.
func (c *Client) Status(ctx context.Context) (StatusReply, error) {
	var r StatusReply
	err := c.call(ctx, "status", nil, &r)
	return r, err
}

// List returns day records.
func (c *Client) List(ctx context.Context, req RangeRequest) ([]spx.DayRecord, error) {
	var r []spx.DayRecord
	err := c.call(ctx, "list", req, &r)
	return r, err
}

// Gaps returns the gap days in a range.
func (c *Client) Gaps(ctx context.Context, from, to spx.Date) ([]spx.Date, error) {
	var r []spx.Date
	err := c.call(ctx, "gaps", RangeRequest{From: from, To: to}, &r)
	return r, err
}

// Enqueue plans and publishes jobs.
func (c *Client) Enqueue(ctx context.Context, req EnqueueRequest) (EnqueueResult, error) {
	var r EnqueueResult
	err := c.call(ctx, "enqueue", req, &r)
	return r, err
}

// Retry queues failed and dead jobs again.
func (c *Client) Retry(ctx context.Context, req RetryRequest) (RetryResult, error) {
	var r RetryResult
	err := c.call(ctx, "retry", req, &r)
	return r, err
}

// Progress reports on days.
func (c *Client) Progress(ctx context.Context, dates []spx.Date) ([]DayProgress, error) {
	var r []DayProgress
	err := c.call(ctx, "progress", ProgressRequest{Dates: dates}, &r)
	return r, err
}

// ConfigGet returns every stored configuration value.
func (c *Client) ConfigGet(ctx context.Context) (map[string]string, error) {
	var r map[string]string
	err := c.call(ctx, "config.get", ConfigRequest{}, &r)
	return r, err
}

// ConfigSet stores a configuration value.
func (c *Client) ConfigSet(ctx context.Context, key, value string) error {
	return c.call(ctx, "config.set", ConfigRequest{Key: key, Value: value}, nil)
}

// Jobs lists job records through the coordinator (the CLI cannot open the
// status database while the coordinator holds it).
func (c *Client) Jobs(ctx context.Context, f spx.JobFilter) ([]spx.JobRecord, error) {
	var r []spx.JobRecord
	err := c.call(ctx, "jobs", f, &r)
	return r, err
}

// Days lists day records in [from, to] through the coordinator.
func (c *Client) Days(ctx context.Context, from, to spx.Date) ([]spx.DayRecord, error) {
	return c.List(ctx, RangeRequest{From: from, To: to})
}
