package spx

import (
	"context"
	"strconv"
	"time"
)

// Contract is one option contract.
type Contract struct {
	Root       string  `json:"root"`
	Expiration Date    `json:"expiration"`
	Strike     float64 `json:"strike"` // dollars
	Right      byte    `json:"right"`  // 'C' or 'P'
}

// HistoryRequest asks for the history rows of one dataset for one (root,
// trade date, expiration).
type HistoryRequest struct {
	Dataset    Dataset
	Root       string
	Date       Date
	Expiration Date
	Interval   time.Duration // intraday datasets; 0 means the default 1m
	// Right narrows the request to calls ('C') or puts ('P'); 0 means both.
	// The fetcher uses it to split a request the terminal calls too large.
	Right byte
	// AllExpirations asks for every expiration of the day in one request
	// (v3 expiration=*, v2 exp=0; rows carry their own expiration), and
	// Expiration is ignored. ThetaData's v3 spec offers it for quote, eod
	// and open_interest, not for greeks or ohlc.
	AllExpirations bool
}

// Row is one history row, normalised from either terminal generation onto the
// dataset's canonical columns.
type Row struct {
	Contract Contract
	Date     Date // trade date of the row
	// Values holds one entry per canonical column (Dataset.Columns order):
	// the value as a JSON number literal (already checked to be one: finite,
	// no NaN/Inf), or nil for a missing Optional column. The bytes are only
	// valid until the next call to Next.
	Values [][]byte
}

// StreamInfo describes where a stream came from.
type StreamInfo struct {
	Generation string        // "v3" or "v2"
	URL        string        // first request URL (no credentials)
	Header     []string      // the response's column names, as sent
	Pages      int           // pages read so far (v2)
	Latency    time.Duration // time to the first response header
}

// RowStream yields rows one at a time without holding the response in
// memory. A body cut short, a stall past the idle timeout or a row that does
// not parse ends the stream with an error from Err, never a silently short
// result.
type RowStream interface {
	Next() bool
	Row() *Row
	Err() error
	Info() StreamInfo
	Close() error
}

// Source is the Theta Terminal as the coordinator and fetchers see it.
// Errors carry an ErrorClass (see ClassOf); NO_DATA is ClassEmpty.
type Source interface {
	// Expirations lists every expiration ever listed for root.
	Expirations(ctx context.Context, root string) ([]Date, error)
	// Contracts lists the contracts quoted on date for the roots.
	Contracts(ctx context.Context, date Date, roots []string) ([]Contract, error)
	// ExpirationDates lists the trade dates on which an expiration has data.
	ExpirationDates(ctx context.Context, root string, exp Date) ([]Date, error)
	// History streams the rows of one dataset for (root, date, expiration).
	History(ctx context.Context, req HistoryRequest) (RowStream, error)
}

// AppendStaged appends the staged line of r, the form fetchers write into
// the staging object store: one JSON array per line, values in
// StagedColumns order, e.g.
//
//	["SPXW",20240315,5100,"C",20240315,34200000,12.3,12.5,…]
//
// It is the NDJSON of AppendNDJSON without the keys: 2.5× smaller for
// greeks, so hashing, compressing, storing and decoding it cost that much
// less. The names travel once, in the staged object's metadata
// ("columns"). The writer's converter and `spx convert` read both forms.
func AppendStaged(dst []byte, ds Dataset, r *Row) []byte {
	dst = AppendStagedContract(dst, r.Contract)
	dst = strconv.AppendInt(dst, int64(r.Date.Int()), 10)
	for i := range ds.Columns() {
		dst = append(dst, ',')
		if i < len(r.Values) && r.Values[i] != nil {
			dst = append(dst, r.Values[i]...)
		} else {
			dst = append(dst, "null"...)
		}
	}
	return append(dst, ']', '\n')
}

// AppendStagedContract appends the start of a staged line that only depends
// on the contract, up to and including the comma before the date:
// `["SPXW",20240315,5100,"C",`. Decoders cache it across a contract's rows.
func AppendStagedContract(dst []byte, c Contract) []byte {
	dst = append(dst, '[', '"')
	dst = append(dst, c.Root...)
	dst = append(dst, '"', ',')
	dst = strconv.AppendInt(dst, int64(c.Expiration.Int()), 10)
	dst = append(dst, ',')
	dst = appendStrike(dst, c.Strike)
	return append(dst, ',', '"', c.Right, '"', ',')
}

// StagedStream is a RowStream that can append the staged line of the next
// row itself, cheaper than AppendStaged(dst, ds, Row()) because it can
// reuse what repeats from row to row. NextStaged advances like Next and
// appends exactly the bytes AppendStaged would for the request's dataset;
// Row is valid afterwards as after Next. On false nothing is appended.
type StagedStream interface {
	RowStream
	NextStaged(dst []byte) ([]byte, bool)
}

// StagedColumns names the values of a staged line of ds, in order.
func StagedColumns(ds Dataset) []string {
	names := []string{"root", "expiration", "strike", "right", "date"}
	for _, c := range ds.Columns() {
		names = append(names, c.Name)
	}
	return names
}

// appendStrike formats a strike in dollars as the shortest decimal that
// reads back exactly; whole-dollar strikes (nearly all) skip the float
// formatter.
func appendStrike(dst []byte, f float64) []byte {
	if f >= 0 && f < 1e9 && f == float64(int64(f)) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

// AppendNDJSON appends the NDJSON object form of r (one line, with the
// trailing newline) to dst: what `spx convert` users' dumps look like, and
// the staged form before AppendStaged. Field order: root, expiration (YYYYMMDD int),
// strike (dollars), right ("C"/"P"), date (YYYYMMDD int), then the dataset's
// canonical columns by name. The writer's converter and `spx convert` read
// exactly this form.
func AppendNDJSON(dst []byte, ds Dataset, r *Row) []byte {
	dst = append(dst, `{"root":"`...)
	dst = append(dst, r.Contract.Root...)
	dst = append(dst, `","expiration":`...)
	dst = strconv.AppendInt(dst, int64(r.Contract.Expiration.Int()), 10)
	dst = append(dst, `,"strike":`...)
	dst = strconv.AppendFloat(dst, r.Contract.Strike, 'f', -1, 64)
	dst = append(dst, `,"right":"`...)
	dst = append(dst, r.Contract.Right)
	dst = append(dst, `","date":`...)
	dst = strconv.AppendInt(dst, int64(r.Date.Int()), 10)
	for i, c := range ds.Columns() {
		dst = append(dst, ',', '"')
		dst = append(dst, c.Name...)
		dst = append(dst, '"', ':')
		if i < len(r.Values) && r.Values[i] != nil {
			dst = append(dst, r.Values[i]...)
		} else {
			dst = append(dst, "null"...)
		}
	}
	return append(dst, '}', '\n')
}

// Terminal states, as spx sees the Theta Terminal.
const (
	TerminalUnknown      = "unknown"      // not checked yet
	TerminalUp           = "up"           // mdds status CONNECTED
	TerminalStarting     = "starting"     // answers, but UNVERIFIED (logging in) or 571 SERVER_STARTING
	TerminalDisconnected = "disconnected" // answers, but lost ThetaData's servers (DISCONNECTED or ERROR)
	TerminalDown         = "down"         // nothing answers at the configured URL
)

// ErrorTypeTerminal is the error log's type of a terminal outage: the
// coordinator's process records each outage as it begins.
const ErrorTypeTerminal = "terminal"

// TerminalStates lists every terminal state, in display order.
var TerminalStates = []string{TerminalUp, TerminalStarting, TerminalDisconnected, TerminalDown, TerminalUnknown}

// TerminalStatus is what spx last learned of the terminal. Planning and
// fetching run only while State is TerminalUp.
type TerminalStatus struct {
	State     string    `json:"state"`
	API       string    `json:"api,omitempty"`    // generation in use: "v3" or "v2" (last known)
	URL       string    `json:"url,omitempty"`    // base URL in use (last known)
	Mdds      string    `json:"mdds,omitempty"`   // the status word the terminal answered
	Since     time.Time `json:"since,omitzero"`   // when State began
	Checked   time.Time `json:"checked,omitzero"` // last check
	LastError string    `json:"last_error,omitempty"`
}
