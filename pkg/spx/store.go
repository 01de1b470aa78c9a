package spx

import "context"

// JobFilter selects job records.
type JobFilter struct {
	From, To Date         // trade dates, inclusive; zero means unbounded
	Outcomes []JobOutcome // empty means any
	Dataset  Dataset      // empty means any
	Limit    int          // 0 means no limit
}

// StatusStore keeps the archive's state: jobs, days, configuration and the
// error log. Exactly one process (the coordinator, or the CLI when no
// coordinator runs) owns it. Every method's changes happen in one
// transaction.
type StatusStore interface {
	// PutJobs inserts or replaces job records.
	PutJobs(ctx context.Context, recs []JobRecord) error
	// UpdateJob applies fn to the job's record (a zero record with the key
	// set if none exists) and stores the result; returning an error from fn
	// aborts the change.
	UpdateJob(ctx context.Context, key JobKey, fn func(*JobRecord) error) (JobRecord, error)
	// Job returns one job's record; ok is false if there is none.
	Job(ctx context.Context, key JobKey) (rec JobRecord, ok bool, err error)
	// Jobs lists jobs matching f, ordered by key.
	Jobs(ctx context.Context, f JobFilter) ([]JobRecord, error)
	// JobsForDate lists every job of one trade date, ordered by key.
	JobsForDate(ctx context.Context, date Date) ([]JobRecord, error)

	// PutDay inserts or replaces a day record.
	PutDay(ctx context.Context, rec DayRecord) error
	// UpdateDay applies fn to the day's record (zero record with Date set if
	// none exists) and stores the result.
	UpdateDay(ctx context.Context, date Date, fn func(*DayRecord) error) (DayRecord, error)
	// Day returns one day's record; ok is false if there is none.
	Day(ctx context.Context, date Date) (rec DayRecord, ok bool, err error)
	// Days lists day records in [from, to] (zero = unbounded), by date.
	Days(ctx context.Context, from, to Date) ([]DayRecord, error)
	// DeleteDay removes a day's record unless the day has job records,
	// and reports whether it removed one.
	DeleteDay(ctx context.Context, date Date) (bool, error)

	// AppendError adds an entry to the error log.
	AppendError(ctx context.Context, e ErrorEntry) error
	// Errors returns the newest entries first, at most limit (0 = all).
	Errors(ctx context.Context, limit int) ([]ErrorEntry, error)

	// Config returns a stored configuration value; ok is false if unset.
	Config(ctx context.Context, key string) (value string, ok bool, err error)
	// SetConfig stores a configuration value.
	SetConfig(ctx context.Context, key, value string) error
	// AllConfig returns every stored configuration value.
	AllConfig(ctx context.Context) (map[string]string, error)

	Close() error
}

// Gaps returns the sessions whose day status is not complete (success or
// no_data). sessions must be the exchange's trading days in the range of
// interest, in order; status looks up a day (ok false: never processed).
func Gaps(sessions []Date, status func(Date) (DayStatus, bool)) []Date {
	var gaps []Date
	for _, d := range sessions {
		if s, ok := status(d); ok && s.Complete() {
			continue
		}
		gaps = append(gaps, d)
	}
	return gaps
}
