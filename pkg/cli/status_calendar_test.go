package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/web"
)

// calendarGoldenASCII is `spx status --calendar --year 2024 --no-color` on
// storeSeededDB: 01-02 success, 01-03 no data, 01-04 failed, 01-05 partial,
// every other 2024 session missing; 01-01, 01-15, 03-29, 07-04, 12-25 and
// weekends are blank.
const calendarGoldenASCII = `2024
     1       5         10        15        20        25        30
Jan    + . X ~     ? ? ? ? ?       ? ? ? ?     ? ? ? ? ?     ? ? ?
Feb  ? ?     ? ? ? ? ?     ? ? ? ? ?       ? ? ? ?     ? ? ? ?
Mar  ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ?
Apr  ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ?
May  ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?       ? ? ? ?
Jun      ? ? ? ? ?     ? ? ? ? ?     ? ?   ? ?     ? ? ? ? ?
Jul  ? ? ?   ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ?
Aug  ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?
Sep      ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ?
Oct  ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ?
Nov  ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ? ?   ?
Dec    ? ? ? ? ?     ? ? ? ? ?     ? ? ? ? ?     ? ?   ? ?     ? ?
252 sessions: 1 success, 1 partial, 1 failed, 1 no data, 248 missing

legend:  + success  ~ partial  X failed  . no data  o queued/processing  ? missing  - not closed yet  (blank: no session)
`

func TestStatusCalendarGolden(t *testing.T) {
	db := storeSeededDB(t)
	code, out, errOut := storeRunSPX(t, "--db", db, "status", "--calendar", "--year", "2024", "--no-color")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != calendarGoldenASCII {
		t.Errorf("got\n%s\nwant\n%s", out, calendarGoldenASCII)
	}

	// Piped without --no-color: the same layout in the plain symbols.
	code, out, errOut = storeRunSPX(t, "--db", db, "status", "--calendar", "--year", "2024")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	plain := strings.NewReplacer("+ ", "✓ ", ". ", "· ", "X ", "✗ ", " o ", " … ").Replace(calendarGoldenASCII)
	if out != plain {
		t.Errorf("plain got\n%s\nwant\n%s", out, plain)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colours written to a pipe")
	}
}

// On a terminal the cells are coloured; without the colour codes the text is
// the plain calendar.
func TestStatusCalendarColors(t *testing.T) {
	now := time.Date(2024, time.March, 1, 18, 0, 0, 0, spx.NewYork)
	recs := []spx.DayRecord{
		{Date: spx.NewDate(2024, 1, 2), Status: spx.DaySuccess},
		{Date: spx.NewDate(2024, 1, 3), Status: spx.DayProcessing},
		{Date: spx.NewDate(2024, 1, 4), Status: spx.DayFailed},
	}
	cov := []web.Coverage{web.BuildCoverage(2024, recs, now)}
	var color, plain bytes.Buffer
	if err := renderCalendar(&color, cov, styleColor); err != nil {
		t.Fatal(err)
	}
	if err := renderCalendar(&plain, cov, stylePlain); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\x1b[32m✓\x1b[0m", "\x1b[36m…\x1b[0m", "\x1b[1;31m✗\x1b[0m", "\x1b[35m?\x1b[0m", "\x1b[2m-\x1b[0m"} {
		if !strings.Contains(color.String(), want) {
			t.Errorf("coloured calendar lacks %q", want)
		}
	}
	stripped := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(color.String(), "")
	if stripped != plain.String() {
		t.Errorf("coloured calendar without colours\n%s\ndiffers from the plain one\n%s", stripped, plain.String())
	}
	lines := strings.Split(plain.String(), "\n")
	if lines[2] != "Jan    ✓ … ✗ ?     ? ? ? ? ?       ? ? ? ?     ? ? ? ? ?     ? ? ?" {
		t.Errorf("January = %q", lines[2])
	}
	// 2024-03-01 closed before now; the sessions after it are still to come.
	if lines[4] != "Mar  ?     - - - - -     - - - - -     - - - - -     - - - -" {
		t.Errorf("March = %q", lines[4])
	}
}

func TestChooseCalendarStyle(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		name    string
		noColor bool
		env     string
		want    calendarStyle
	}{
		{"pipe", false, "", stylePlain},
		{"pipe, NO_COLOR", false, "1", stylePlain},
		{"--no-color", true, "", styleASCII},
	} {
		if got := chooseCalendarStyle(&bytes.Buffer{}, tc.noColor, env(tc.env)); got != tc.want {
			t.Errorf("%s: style %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestStatusCalendarJSONAndErrors(t *testing.T) {
	db := storeSeededDB(t)
	code, out, errOut := storeRunSPX(t, "--db", db, "status", "--calendar", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var covs []web.Coverage
	if err := json.Unmarshal([]byte(out), &covs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Default years: the recorded ones (2024 only).
	if len(covs) != 1 || covs[0].Year != 2024 || covs[0].Days[2].Cell != web.CellFailed || covs[0].Days[2].Date != spx.NewDate(2024, 1, 4) {
		t.Errorf("calendars %+v", covs)
	}

	// An empty database: every session missing. (One that does not exist
	// is an error: TestReadOnlyCommandsWithoutDatabase.)
	emptyDB := filepath.Join(t.TempDir(), "empty.db")
	if s, err := statusdb.Open(emptyDB, statusdb.Options{}); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
	code, out, _ = storeRunSPX(t, "--db", emptyDB, "status", "--calendar", "--year", "2023,2024", "--no-color")
	if code != 0 || strings.Count(out, "sessions: 250 missing") != 1 || strings.Count(out, "sessions: 252 missing") != 1 {
		t.Errorf("an empty database: exit %d\n%s", code, out)
	}

	for _, args := range [][]string{
		{"status", "--calendar", "--year", "1990"},
		{"status", "--calendar", "--year", "twenty"},
		{"status", "--year", "2024"},
		{"status", "--no-color"},
		{"status", "--calendar", "--format", "xml"},
	} {
		code, out, errOut := storeRunSPX(t, append([]string{"--db", db}, args...)...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2, a reason, no output", args, code, out, errOut)
		}
	}
}

// The page's JSON endpoints answer byte for byte what the CLI prints with
// --format json on the same database.
func TestWebAPIMatchesCLIJSON(t *testing.T) {
	db := storeSeededDB(t)
	st, err := statusdb.Open(db, statusdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := httptest.NewServer(web.NewServer(web.Config{Store: st, Database: db}))
	defer ts.Close()
	for _, tc := range []struct {
		cli []string
		api string
	}{
		{[]string{"status", "--format", "json"}, "/api/status"},
		{[]string{"status", "--format", "json", "--errors", "0"}, "/api/status?errors=0"},
		{[]string{"list", "--format", "json"}, "/api/days"},
		{[]string{"list", "--format", "json", "--failed-only", "--from", "2024-01-03", "--to", "2024-01-05"}, "/api/days?failed_only=true&from=2024-01-03&to=2024-01-05"},
		{[]string{"list", "--format", "json", "--from", "2025-01-01"}, "/api/days?from=2025-01-01"},
	} {
		code, out, errOut := storeRunSPX(t, append([]string{"--db", db}, tc.cli...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.cli, code, errOut)
		}
		resp, err := http.Get(ts.URL + tc.api)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != out {
			t.Errorf("%s (%d)\n%s\ndiffers from spx %v\n%s", tc.api, resp.StatusCode, body, tc.cli, out)
		}
	}
}
