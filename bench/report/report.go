// Package report turns the benchmark's measurements into the printed table
// and the pass/fail lines of the performance targets (issue "Performance:
// beat DuckDB at NDJSON→Parquet, bounded memory, and an end-to-end
// benchmark").
//
// It only formats and judges numbers it is given; it must not run anything.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// MiB is 2^20 bytes.
const MiB = 1 << 20

// Measurement is one converter on one input (the median run when several
// were made).
type Measurement struct {
	Name        string
	Input       string // which input; ratios only compare rows of the same input
	Rows        int64
	InputBytes  int64
	Wall        time.Duration
	CPU         time.Duration
	PeakRSS     int64
	OutputBytes int64
	Err         error // the converter failed or is missing; other fields may be zero
}

// RowsPerSec is the conversion rate.
func (m Measurement) RowsPerSec() float64 { return perSec(float64(m.Rows), m.Wall) }

// MBPerSec is the input rate in MB (10^6 bytes) per second.
func (m Measurement) MBPerSec() float64 { return perSec(float64(m.InputBytes)/1e6, m.Wall) }

func perSec(v float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return v / d.Seconds()
}

// Table writes a Markdown table of ms. Every measurement gets a column
// "speed vs X" (X's wall time / this one's: above 1 means faster than X)
// and "size vs X" (this output / X's output) for each baseline name X,
// against X's measurement on the same input.
func Table(w io.Writer, ms []Measurement, baselines []string) {
	head := []string{"input", "converter", "rows", "wall s", "rows/s", "MB/s", "CPU s", "peak RSS MiB", "Parquet MiB"}
	for _, b := range baselines {
		head = append(head, "speed vs "+b, "size vs "+b)
	}
	fmt.Fprintln(w, "| "+strings.Join(head, " | ")+" |")
	align := make([]string, len(head))
	for i := range align {
		align[i] = "---:"
	}
	align[0] = "---"
	fmt.Fprintln(w, "| "+strings.Join(align, " | ")+" |")
	for _, m := range ms {
		if m.Err != nil {
			cells := []string{m.Input, m.Name, "failed: " + oneLine(m.Err.Error(), 200)}
			for len(cells) < len(head) {
				cells = append(cells, "")
			}
			fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
			continue
		}
		cells := []string{
			m.Input,
			m.Name,
			fmt.Sprintf("%d", m.Rows),
			fmt.Sprintf("%.2f", m.Wall.Seconds()),
			fmt.Sprintf("%.2fM", m.RowsPerSec()/1e6),
			mbps(m),
			fmt.Sprintf("%.2f", m.CPU.Seconds()),
			fmt.Sprintf("%.0f", float64(m.PeakRSS)/MiB),
			fmt.Sprintf("%.1f", float64(m.OutputBytes)/MiB),
		}
		for _, name := range baselines {
			b, ok := find(ms, name, m.Input)
			if !ok || b.Err != nil || m.Wall <= 0 || b.OutputBytes <= 0 {
				cells = append(cells, "–", "–")
				continue
			}
			cells = append(cells,
				fmt.Sprintf("%.2f×", SpeedRatio(b, m)),
				fmt.Sprintf("%.3f×", float64(m.OutputBytes)/float64(b.OutputBytes)))
		}
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
}

func mbps(m Measurement) string {
	if m.InputBytes <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", m.MBPerSec())
}

// SpeedRatio is baseline wall time / subject wall time: above 1 means the
// subject is faster.
func SpeedRatio(baseline, subject Measurement) float64 {
	if subject.Wall <= 0 {
		return 0
	}
	return baseline.Wall.Seconds() / subject.Wall.Seconds()
}

func find(ms []Measurement, name, input string) (Measurement, bool) {
	for _, m := range ms {
		if m.Name == name && m.Input == input {
			return m, true
		}
	}
	return Measurement{}, false
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// Verdict is one target's outcome.
type Verdict struct {
	Target string
	Want   string
	Got    string
	// Status is PASS, FAIL or SKIP (not measurable in this run).
	Status string
}

func verdict(target, want, got string, ok bool) Verdict {
	s := "FAIL"
	if ok {
		s = "PASS"
	}
	return Verdict{Target: target, Want: want, Got: got, Status: s}
}

func skip(target, want, why string) Verdict {
	return Verdict{Target: target, Want: want, Got: why, Status: "SKIP"}
}

// Limits are the issue's numbers.
type Limits struct {
	MinSpeedRatio     float64 // DuckDB (2 threads) time / spx time
	StretchSpeedRatio float64
	MaxPeakRSS        int64   // bytes
	MaxRSSGrowth      float64 // large expiration peak / small expiration peak
}

// IssueLimits are the targets of the performance issue.
var IssueLimits = Limits{MinSpeedRatio: 1.0, StretchSpeedRatio: 1.5, MaxPeakRSS: 256 * MiB, MaxRSSGrowth: 1.2}

// Judge checks the writer-stage targets: speed and size against the
// baseline, the converter's peak RSS on the day, and flat memory between a
// small and a large single expiration (small or large may be zero-valued
// when that run was skipped).
func Judge(l Limits, spx, baseline, small, large Measurement) []Verdict {
	var out []Verdict
	speedWant := fmt.Sprintf("%s time / spx time ≥ %.1f (stretch %.1f)", baseline.Name, l.MinSpeedRatio, l.StretchSpeedRatio)
	sizeWant := fmt.Sprintf("spx Parquet ≤ %s Parquet", baseline.Name)
	rssWant := fmt.Sprintf("≤ %d MiB", l.MaxPeakRSS/MiB)
	switch {
	case spx.Err != nil:
		out = append(out, skip("1 writer speed", speedWant, "spx convert failed"), skip("2 output size", sizeWant, "spx convert failed"),
			skip("3a converter peak RSS (day)", rssWant, "spx convert failed"))
	case baseline.Err != nil:
		out = append(out, skip("1 writer speed", speedWant, "baseline failed"), skip("2 output size", sizeWant, "baseline failed"))
	default:
		r := SpeedRatio(baseline, spx)
		got := fmt.Sprintf("%.2f (%.2fs vs %.2fs)", r, baseline.Wall.Seconds(), spx.Wall.Seconds())
		if r >= l.StretchSpeedRatio {
			got += ", stretch met"
		}
		out = append(out, verdict("1 writer speed", speedWant, got, r >= l.MinSpeedRatio))
		out = append(out, verdict("2 output size", sizeWant,
			fmt.Sprintf("%.1f MiB vs %.1f MiB (%.3f×)", float64(spx.OutputBytes)/MiB, float64(baseline.OutputBytes)/MiB, float64(spx.OutputBytes)/float64(baseline.OutputBytes)),
			spx.OutputBytes <= baseline.OutputBytes))
	}
	if spx.Err == nil {
		out = append(out, verdict("3a converter peak RSS (day)", rssWant, fmt.Sprintf("%.0f MiB", float64(spx.PeakRSS)/MiB), spx.PeakRSS <= l.MaxPeakRSS))
	}
	growthWant := fmt.Sprintf("peak(%s) ≤ %.1f × peak(%s), both ≤ %d MiB", large.Input, l.MaxRSSGrowth, small.Input, l.MaxPeakRSS/MiB)
	switch {
	case small.Input == "" || large.Input == "":
		out = append(out, skip("3b flat memory", "peak(large expiration) ≤ 1.2 × peak(small)", "not run"))
	case small.Err != nil || large.Err != nil || small.PeakRSS <= 0:
		out = append(out, skip("3b flat memory", growthWant, "a converter run failed"))
	default:
		g := float64(large.PeakRSS) / float64(small.PeakRSS)
		out = append(out, verdict("3b flat memory", growthWant,
			fmt.Sprintf("%.0f MiB vs %.0f MiB (%.2f×)", float64(large.PeakRSS)/MiB, float64(small.PeakRSS)/MiB, g),
			g <= l.MaxRSSGrowth && large.PeakRSS <= l.MaxPeakRSS && small.PeakRSS <= l.MaxPeakRSS))
	}
	return out
}

// Verdicts writes verdicts as a Markdown table.
func Verdicts(w io.Writer, vs []Verdict) {
	fmt.Fprintln(w, "| target | want | got | result |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, v := range vs {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", v.Target, v.Want, oneLine(v.Got, 160), v.Status)
	}
}

// Failed reports whether any verdict is FAIL.
func Failed(vs []Verdict) bool {
	for _, v := range vs {
		if v.Status == "FAIL" {
			return true
		}
	}
	return false
}
