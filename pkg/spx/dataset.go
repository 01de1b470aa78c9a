package spx

import (
	"fmt"
	"slices"
	"strings"
)

// Dataset is what is downloaded for a job.
type Dataset string

// The datasets spx knows.
const (
	Greeks       Dataset = "greeks"
	Quote        Dataset = "quote"
	OHLC         Dataset = "ohlc"
	EOD          Dataset = "eod"
	OpenInterest Dataset = "open_interest"
)

// Datasets lists every dataset in a stable order.
var Datasets = []Dataset{Greeks, Quote, OHLC, EOD, OpenInterest}

// ParseDataset checks a dataset name.
func ParseDataset(s string) (Dataset, error) {
	d := Dataset(strings.TrimSpace(s))
	if slices.Contains(Datasets, d) {
		return d, nil
	}
	return "", fmt.Errorf("unknown dataset %q: use one of greeks, quote, ohlc, eod, open_interest", s)
}

// ColumnType is the physical type of a canonical source column.
type ColumnType int

// Column types. Int32 is used for ms_of_day style columns, Int64 for sizes,
// counts, exchanges and conditions, Float64 for prices and greeks.
const (
	Int32 ColumnType = iota
	Int64
	Float64
)

func (t ColumnType) String() string {
	switch t {
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("ColumnType(%d)", int(t))
}

// Column is one canonical source column of a dataset.
type Column struct {
	Name string
	Type ColumnType
	// Optional columns may be missing from a response (one terminal
	// generation does not serve them); their value is then null.
	Optional bool
	// V3 is the column's name in a v3 response when it differs from Name
	// (v3 timestamps are ISO strings that become milliseconds of the day).
	V3 string
}

// Canonical column lists. These are the v2 `header.format` names without the
// trailing `date` column (the trade date is a contract-level field of a
// Row). A v3 response is mapped onto them by name: `timestamp` becomes
// ms_of_day, `underlying_timestamp` ms_of_day2, eod's `created`/`last_trade`
// ms_of_day/ms_of_day2.
var columns = map[Dataset][]Column{
	Greeks: {
		{Name: "ms_of_day", Type: Int32, V3: "timestamp"},
		{Name: "bid", Type: Float64},
		{Name: "ask", Type: Float64},
		{Name: "delta", Type: Float64},
		{Name: "theta", Type: Float64},
		{Name: "vega", Type: Float64},
		{Name: "rho", Type: Float64},
		{Name: "epsilon", Type: Float64},
		{Name: "lambda", Type: Float64},
		{Name: "implied_vol", Type: Float64},
		{Name: "iv_error", Type: Float64},
		{Name: "ms_of_day2", Type: Int32, V3: "underlying_timestamp"},
		{Name: "underlying_price", Type: Float64},
	},
	Quote: {
		{Name: "ms_of_day", Type: Int32, V3: "timestamp"},
		{Name: "bid_size", Type: Int64},
		{Name: "bid_exchange", Type: Int64},
		{Name: "bid", Type: Float64},
		{Name: "bid_condition", Type: Int64},
		{Name: "ask_size", Type: Int64},
		{Name: "ask_exchange", Type: Int64},
		{Name: "ask", Type: Float64},
		{Name: "ask_condition", Type: Int64},
	},
	OHLC: {
		{Name: "ms_of_day", Type: Int32, V3: "timestamp"},
		{Name: "open", Type: Float64},
		{Name: "high", Type: Float64},
		{Name: "low", Type: Float64},
		{Name: "close", Type: Float64},
		{Name: "volume", Type: Int64},
		{Name: "count", Type: Int64},
		{Name: "vwap", Type: Float64, Optional: true},
	},
	EOD: {
		{Name: "ms_of_day", Type: Int32, V3: "created"},
		{Name: "ms_of_day2", Type: Int32, V3: "last_trade"},
		{Name: "open", Type: Float64},
		{Name: "high", Type: Float64},
		{Name: "low", Type: Float64},
		{Name: "close", Type: Float64},
		{Name: "volume", Type: Int64},
		{Name: "count", Type: Int64},
		{Name: "bid_size", Type: Int64},
		{Name: "bid_exchange", Type: Int64},
		{Name: "bid", Type: Float64},
		{Name: "bid_condition", Type: Int64},
		{Name: "ask_size", Type: Int64},
		{Name: "ask_exchange", Type: Int64},
		{Name: "ask", Type: Float64},
		{Name: "ask_condition", Type: Int64},
	},
	OpenInterest: {
		{Name: "ms_of_day", Type: Int32, V3: "timestamp"},
		{Name: "open_interest", Type: Int64},
	},
}

// Columns returns the canonical source columns of d, in order. The caller
// must not modify the slice.
func (d Dataset) Columns() []Column { return columns[d] }

// ColumnNames returns the canonical source column names of d, in order.
func (d Dataset) ColumnNames() []string {
	cols := columns[d]
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}

// V3Path is the dataset's v3 history endpoint below /v3.
func (d Dataset) V3Path() string {
	if d == Greeks {
		return "/option/history/greeks/first_order"
	}
	return "/option/history/" + string(d)
}

// V2Path is the dataset's v2 bulk history endpoint below /v2.
func (d Dataset) V2Path() string { return "/bulk_hist/option/" + string(d) }

// AllExpirations reports whether the dataset's history endpoint takes
// expiration=* (v2 exp=0), a whole day's chain in one request: quote, eod
// and open_interest in ThetaData's v3 spec, not greeks or ohlc.
func (d Dataset) AllExpirations() bool { return d == Quote || d == EOD || d == OpenInterest }

// Intraday reports whether the dataset takes an interval (greeks, quote,
// ohlc). eod and open_interest have one row per contract per day.
func (d Dataset) Intraday() bool { return d == Greeks || d == Quote || d == OHLC }
