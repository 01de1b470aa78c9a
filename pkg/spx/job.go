package spx

import (
	"fmt"
	"strings"
	"time"
)

// Default roots: PM-settled weeklies/dailies and AM-settled monthlies.
var DefaultRoots = []string{"SPXW", "SPX"}

// JobKey identifies one job: (dataset, root, trade date, expiration). Its
// string form is printable and sorts by dataset, root, date, expiration:
// greeks.SPXW.20240102.20240105.
type JobKey struct {
	Dataset    Dataset
	Root       string
	Date       Date
	Expiration Date
}

func (k JobKey) String() string {
	if k.Chain() {
		return string(k.Dataset) + "." + k.Root + "." + k.Date.Compact() + ".*"
	}
	return string(k.Dataset) + "." + k.Root + "." + k.Date.Compact() + "." + k.Expiration.Compact()
}

// Chain reports whether k is a chain fetch's key: (dataset, root, date)
// with no expiration, every planned expiration of the day in one
// expiration=* request (String ends in ".*", subjects in ".all"). Jobs,
// files and status are never keyed so; only a fetch message is.
func (k JobKey) Chain() bool { return k.Expiration.IsZero() }

// ChainKey is the key of the chain fetch that may carry k's job.
func (k JobKey) ChainKey() JobKey {
	k.Expiration = 0
	return k
}

// ParseJobKey parses the string form of a JobKey.
func ParseJobKey(s string) (JobKey, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return JobKey{}, fmt.Errorf("invalid job key %q: want dataset.ROOT.YYYYMMDD.YYYYMMDD", s)
	}
	ds, err := ParseDataset(parts[0])
	if err != nil {
		return JobKey{}, fmt.Errorf("invalid job key %q: %w", s, err)
	}
	if parts[1] == "" {
		return JobKey{}, fmt.Errorf("invalid job key %q: empty root", s)
	}
	d, err := ParseCompactDate(parts[2])
	if err != nil {
		return JobKey{}, fmt.Errorf("invalid job key %q: %w", s, err)
	}
	e, err := ParseCompactDate(parts[3])
	if err != nil {
		return JobKey{}, fmt.Errorf("invalid job key %q: %w", s, err)
	}
	return JobKey{Dataset: ds, Root: parts[1], Date: d, Expiration: e}, nil
}

// FetchSubject is the job's subject on SPX_FETCH.
func (k JobKey) FetchSubject() string { return "spx.fetch." + k.subjectTail() }

// WriteSubject is the job's subject on SPX_WRITE.
func (k JobKey) WriteSubject() string { return "spx.write." + k.subjectTail() }

func (k JobKey) subjectTail() string {
	if k.Chain() {
		return string(k.Dataset) + "." + k.Root + "." + k.Date.Compact() + ".all"
	}
	return string(k.Dataset) + "." + k.Root + "." + k.Date.Compact() + "." + k.Expiration.Compact()
}

// ObjectName is the job's staging object in the spx-staging bucket.
func (k JobKey) ObjectName() string {
	return string(k.Dataset) + "/" + k.Root + "/" + k.Date.Compact() + "/" + k.Expiration.Compact() + ".ndjson.s2"
}

// RelPath is the job's Parquet file relative to the output directory:
// <dataset>/root=<ROOT>/date=<YYYY-MM-DD>/exp=<YYYY-MM-DD>.parquet
func (k JobKey) RelPath() string {
	return DayDir(k.Dataset, k.Root, k.Date) + "/exp=" + k.Expiration.String() + ".parquet"
}

// DayDir is the hive partition directory of one (dataset, root, date),
// relative to the output directory; it holds the day's _manifest.json.
func DayDir(ds Dataset, root string, date Date) string {
	return string(ds) + "/root=" + root + "/date=" + date.String()
}

// JobOutcome is the state of a job as recorded in the status store.
type JobOutcome string

// Job outcomes.
const (
	JobQueued   JobOutcome = "queued"
	JobFetching JobOutcome = "fetching"
	JobStaged   JobOutcome = "staged"
	JobWritten  JobOutcome = "written" // rows > 0, Parquet file in place
	JobEmpty    JobOutcome = "empty"   // the terminal answered NO_DATA: definitive
	JobFailed   JobOutcome = "failed"  // permanent error or retry budget spent
	JobDead     JobOutcome = "dead"    // hit MaxDeliver
)

// Done reports whether the outcome completes the job for its day.
func (o JobOutcome) Done() bool { return o == JobWritten || o == JobEmpty }

// Terminal reports whether no more work will happen without a retry.
func (o JobOutcome) Terminal() bool {
	return o == JobWritten || o == JobEmpty || o == JobFailed || o == JobDead
}

// DayStatus is the status of a trade date (the seed's processing_log.status).
type DayStatus string

// Day statuses.
const (
	DayQueued     DayStatus = "queued"
	DayProcessing DayStatus = "processing"
	DaySuccess    DayStatus = "success"
	DayPartial    DayStatus = "partial"
	DayFailed     DayStatus = "failed"
	DayNoData     DayStatus = "no_data"
)

// Complete reports whether the day is not a gap.
func (s DayStatus) Complete() bool { return s == DaySuccess || s == DayNoData }

// JobRecord is what the status store keeps per job.
type JobRecord struct {
	Key        JobKey     `json:"key"`
	Outcome    JobOutcome `json:"outcome"`
	Generation int        `json:"generation"` // bumped by each retry; part of Nats-Msg-Id
	Attempts   int        `json:"attempts"`   // deliveries seen so far
	Rows       int64      `json:"rows"`
	Contracts  int64      `json:"contracts,omitempty"`
	Bytes      int64      `json:"bytes"`  // Parquet file size
	SHA256     string     `json:"sha256"` // of the Parquet file
	File       string     `json:"file,omitempty"`
	SourceURL  string     `json:"source_url,omitempty"`
	ErrorClass ErrorClass `json:"error_class,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	QueuedAt   time.Time  `json:"queued_at"`
	FetchedAt  time.Time  `json:"fetched_at,omitzero"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// DayRecord is the seed's processing_log row: one per trade date.
type DayRecord struct {
	Date                 Date      `json:"date"`
	Status               DayStatus `json:"status"`
	StartedAt            time.Time `json:"started_at,omitzero"`
	CompletedAt          time.Time `json:"completed_at,omitzero"`
	RecordCount          int64     `json:"record_count"`
	FileSizeBytes        int64     `json:"file_size_bytes"`
	Checksum             string    `json:"checksum,omitempty"` // SHA-256 of the day's manifests
	ErrorMessage         string    `json:"error_message,omitempty"`
	RetryCount           int       `json:"retry_count"`
	ProcessingDurationMs int64     `json:"processing_duration_ms"`
	JobsTotal            int       `json:"jobs_total"`
	JobsDone             int       `json:"jobs_done"`
	UpdatedAt            time.Time `json:"updated_at,omitzero"`
	// Planning is set while the coordinator lists the day's contracts and
	// records its jobs; a crash leaves it set, and the coordinator plans the
	// day again when it starts (coordinator.Reconcile).
	Planning bool `json:"planning,omitempty"`
}

// ErrorEntry is one row of the error log.
type ErrorEntry struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // error class or a component name
	Message string    `json:"message"`
	Detail  string    `json:"detail,omitempty"` // e.g. the head of an offending response
	Job     string    `json:"job,omitempty"`    // JobKey string, when the error belongs to a job
	Date    Date      `json:"date,omitempty"`
}
