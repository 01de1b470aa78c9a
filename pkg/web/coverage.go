package web

import (
	"time"

	"github.com/spx-archive/spx/pkg/calendar"
	"github.com/spx-archive/spx/pkg/spx"
)

// Cell is the colour of one trading day in the coverage calendar.
type Cell string

// Calendar cells. Pending covers queued and processing; Missing is a
// session with no day record (a gap nobody has queued); Future is a session
// whose close has not passed yet (not a gap).
const (
	CellSuccess Cell = "success"
	CellPartial Cell = "partial"
	CellFailed  Cell = "failed"
	CellNoData  Cell = "no_data"
	CellPending Cell = "pending"
	CellMissing Cell = "missing"
	CellFuture  Cell = "future"
)

// Cells lists every cell kind in legend order.
var Cells = []Cell{CellSuccess, CellPartial, CellFailed, CellNoData, CellPending, CellMissing, CellFuture}

// CellOf maps a day status to its calendar cell.
func CellOf(s spx.DayStatus) Cell {
	switch s {
	case spx.DaySuccess:
		return CellSuccess
	case spx.DayPartial:
		return CellPartial
	case spx.DayFailed:
		return CellFailed
	case spx.DayNoData:
		return CellNoData
	case spx.DayQueued, spx.DayProcessing:
		return CellPending
	}
	// An unknown status is shown as needing attention rather than hidden.
	return CellFailed
}

// CoverageDay is one trading day of the coverage calendar.
type CoverageDay struct {
	Date         spx.Date      `json:"date"`
	Cell         Cell          `json:"cell"`
	Status       spx.DayStatus `json:"status,omitempty"` // empty when no record
	EarlyClose   bool          `json:"early_close,omitempty"`
	Rows         int64         `json:"rows"`
	Bytes        int64         `json:"bytes"`
	JobsTotal    int           `json:"jobs_total"`
	JobsDone     int           `json:"jobs_done"`
	RetryCount   int           `json:"retry_count,omitempty"`
	ErrorMessage string        `json:"error_message,omitempty"`
}

// Coverage is the calendar of one year.
type Coverage struct {
	Year   int           `json:"year"`
	Counts map[Cell]int  `json:"counts"`
	Days   []CoverageDay `json:"days"` // trading days only, in order
}

// BuildCoverage lays the day records over the exchange's sessions of year.
// now decides which sessions have not closed yet (Future). records may
// cover any range; only those of year are used.
func BuildCoverage(year int, records []spx.DayRecord, now time.Time) Coverage {
	from, to := spx.NewDate(year, time.January, 1), spx.NewDate(year, time.December, 31)
	byDate := make(map[spx.Date]spx.DayRecord, len(records))
	for _, r := range records {
		if r.Date >= from && r.Date <= to {
			byDate[r.Date] = r
		}
	}
	lastClosed := calendar.LastClosedSession(now)
	sessions := calendar.Sessions(from, to)
	cov := Coverage{Year: year, Counts: map[Cell]int{}, Days: make([]CoverageDay, 0, len(sessions))}
	for _, s := range sessions {
		d := CoverageDay{Date: s.Date, EarlyClose: s.Close == calendar.EarlyClose}
		if r, ok := byDate[s.Date]; ok {
			d.Cell, d.Status = CellOf(r.Status), r.Status
			d.Rows, d.Bytes = r.RecordCount, r.FileSizeBytes
			d.JobsTotal, d.JobsDone, d.RetryCount = r.JobsTotal, r.JobsDone, r.RetryCount
			d.ErrorMessage = r.ErrorMessage
		} else if s.Date > lastClosed {
			d.Cell = CellFuture
		} else {
			d.Cell = CellMissing
		}
		cov.Counts[d.Cell]++
		cov.Days = append(cov.Days, d)
	}
	return cov
}

// DefaultYears returns the years to show when none are asked for: from the
// first to the last recorded day, or the current year (New York) when
// nothing is recorded, clamped to the calendar's verified years.
func DefaultYears(records []spx.DayRecord, now time.Time) []int {
	first, last := now.In(spx.NewYork).Year(), now.In(spx.NewYork).Year()
	if len(records) > 0 {
		first, last = records[0].Date.Year(), records[len(records)-1].Date.Year()
	}
	first, last = max(first, calendar.MinYear), min(last, calendar.MaxYear)
	var years []int
	for y := first; y <= last; y++ {
		years = append(years, y)
	}
	if len(years) == 0 {
		years = []int{min(max(now.Year(), calendar.MinYear), calendar.MaxYear)}
	}
	return years
}
