package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func runCalendarCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), append([]string{"calendar"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCalendarJSON(t *testing.T) {
	code, out, stderr := runCalendarCLI(t, "--from", "2000-01-01", "--to", "2026-12-31", "--format", "json")
	if code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	// Exactly the documented shape, one object a line.
	line := regexp.MustCompile(`^\{"date":"\d{4}-\d{2}-\d{2}","close":"(16:00|13:00)"\},?$`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "[" || lines[len(lines)-1] != "]" {
		t.Fatalf("output is not one JSON array: starts %q, ends %q", lines[0], lines[len(lines)-1])
	}
	for _, l := range lines[1 : len(lines)-1] {
		if !line.MatchString(l) {
			t.Fatalf("line %q does not have the shape {\"date\":\"YYYY-MM-DD\",\"close\":\"HH:MM\"}", l)
		}
	}
	var got []map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	// 2000-2026: known yearly counts add up; spot-check contents and order.
	if len(got) < 27*248 || len(got) > 27*253 {
		t.Errorf("%d sessions for 27 years", len(got))
	}
	seen := map[string]string{}
	for i, s := range got {
		if len(s) != 2 {
			t.Fatalf("session %v has fields other than date and close", s)
		}
		if i > 0 && s["date"] <= got[i-1]["date"] {
			t.Fatalf("dates not ascending at %s", s["date"])
		}
		seen[s["date"]] = s["close"]
	}
	if got[0]["date"] != "2000-01-03" || got[len(got)-1]["date"] != "2026-12-31" {
		t.Errorf("range is %s..%s, want 2000-01-03..2026-12-31", got[0]["date"], got[len(got)-1]["date"])
	}
	for date, want := range map[string]string{
		"2024-07-03": "13:00", "2024-07-02": "16:00", "2024-11-29": "13:00",
		"2021-12-31": "16:00", "2003-12-26": "13:00", "2002-07-05": "13:00",
		"2024-07-04": "", "2025-01-09": "", "2001-09-11": "", "2021-12-24": "",
	} {
		if seen[date] != want {
			t.Errorf("%s: close %q, want %q (empty = not a session)", date, seen[date], want)
		}
	}
}

func TestCalendarEmptyRangeIsEmptyArray(t *testing.T) {
	code, out, _ := runCalendarCLI(t, "--from", "2024-07-06", "--to", "2024-07-07", "--format", "json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("weekend range: exit %d, output %q, want 0 and []", code, out)
	}
}

func TestCalendarTable(t *testing.T) {
	code, out, stderr := runCalendarCLI(t, "--from", "2024-07-02", "--to", "2024-07-05", "--format", "table")
	if code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	want := "DATE        WEEKDAY  CLOSE\n" +
		"2024-07-02  Tue      16:00\n" +
		"2024-07-03  Wed      13:00  early close\n" +
		"2024-07-05  Fri      16:00\n"
	if out != want {
		t.Errorf("table =\n%s\nwant\n%s", out, want)
	}
}

func TestCalendarDefaultsToJSONWhenNotATerminal(t *testing.T) {
	code, out, _ := runCalendarCLI(t, "--from", "2024-07-03", "--to", "2024-07-03")
	if code != 0 || out != "[\n{\"date\":\"2024-07-03\",\"close\":\"13:00\"}\n]\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestCalendarDefaultRangeIsCurrentYear(t *testing.T) {
	var out bytes.Buffer
	// 2025-01-01 03:00 UTC is still 2024 in New York.
	now := time.Date(2025, 1, 1, 3, 0, 0, 0, time.UTC)
	if err := runCalendar(context.Background(), &out, calendarArgs{format: "json"}, now); err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 252 || got[0]["date"] != "2024-01-02" || got[len(got)-1]["date"] != "2024-12-31" {
		t.Errorf("default range gave %d sessions %s..%s, want 2024's 252", len(got), got[0]["date"], got[len(got)-1]["date"])
	}
}

func TestCalendarBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the one-line message
	}{
		{"no such day", []string{"--from", "2024-02-30", "--to", "2024-03-01"}, `--from: invalid date "2024-02-30"`},
		{"slashes", []string{"--from", "2024/01/02"}, "use YYYY-MM-DD"},
		{"word", []string{"--to", "yesterday"}, `--to: invalid date "yesterday": use YYYY-MM-DD`},
		{"reversed", []string{"--from", "2024-05-01", "--to", "2024-04-01"}, "--from 2024-05-01 is after --to 2024-04-01"},
		{"too early", []string{"--from", "1999-12-31", "--to", "2000-01-31"}, "supported range 2000-01-01..2030-12-31"},
		{"too late", []string{"--from", "2030-01-01", "--to", "2031-01-01"}, "supported range 2000-01-01..2030-12-31"},
		{"format", []string{"--from", "2024-01-01", "--to", "2024-01-31", "--format", "xml"}, "use table or json"},
		{"argument", []string{"2024"}, "unknown command"},
		{"flag", []string{"--frm", "2024-01-01"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCalendarCLI(t, tt.args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("stderr has %d lines, want one: %q", n+1, stderr)
			}
		})
	}
}

func TestCalendarHelp(t *testing.T) {
	code, out, _ := runCalendarCLI(t, "--help")
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"--from", "--to", "--format", "table on a terminal", "2000-2030", `{"date":"2024-07-03","close":"13:00"}`, "Examples:"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
