package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

type fakeStore map[string]string

func (f fakeStore) AllConfig(context.Context) (map[string]string, error) { return f, nil }

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsMatchKeys(t *testing.T) {
	c, err := Resolve(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("defaults from Keys = %+v\nDefault()        = %+v", c, Default())
	}
	for _, k := range Keys {
		if err := k.Validate(k.Default); err != nil {
			t.Errorf("default of %s does not validate: %v", k.Name, err)
		}
		if got := c.Get(k.Name); got != k.Default {
			t.Errorf("Get(%s) = %q, want default %q", k.Name, got, k.Default)
		}
	}
}

func TestPrecedence(t *testing.T) {
	ctx := context.Background()
	store := fakeStore{"thetadata.concurrency": "3", "processing.roots": "SPX", "nats.listen": "127.0.0.1:5000", "database.path": "/stored/ignored.db", "future.key": "x"}
	env := envOf(map[string]string{
		"SPX_THETADATA_CONCURRENCY": "5",
		"MAX_CONCURRENT_REQUESTS":   "6", // the SPX_ name wins
		"PROCESSING_START_DATE":     "2023-03-01",
		"SPX_PROCESSING_ROOTS":      "SPXW",
		"SPX_NATS_CREDENTIALS":      "/secret/creds",
	})
	flags := map[string]string{"processing.roots": "VIX"}

	settings, err := Explain(ctx, flags, env, store)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for _, s := range settings {
		got[s.Key] = s
	}
	tests := []struct {
		key, value string
		source     Source
		origin     string
	}{
		{"processing.roots", "VIX", FromFlag, "processing.roots"},
		{"thetadata.concurrency", "5", FromEnv, "SPX_THETADATA_CONCURRENCY"},
		{"processing.start_date", "2023-03-01", FromEnv, "PROCESSING_START_DATE"},
		{"nats.listen", "127.0.0.1:5000", FromStored, ""},
		{"database.path", "./data/spx.db", FromDefault, ""}, // never taken from the store
		{"thetadata.api", "auto", FromDefault, ""},
	}
	for _, tt := range tests {
		s := got[tt.key]
		if s.Value != tt.value || s.Source != tt.source || s.Origin != tt.origin {
			t.Errorf("%s = %q from %s (%s), want %q from %s (%s)", tt.key, s.Value, s.Source, s.Origin, tt.value, tt.source, tt.origin)
		}
	}
	if d := got["nats.credentials"].Display(); d != Redacted {
		t.Errorf("credentials displayed as %q", d)
	}

	c, err := Resolve(ctx, flags, env, store)
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 5 || !reflect.DeepEqual(c.Roots, []string{"VIX"}) || c.StartDate != spx.NewDate(2023, 3, 1) ||
		c.NATSListen != "127.0.0.1:5000" || c.NATSCredentials != "/secret/creds" {
		t.Errorf("Resolve = %+v", c)
	}
	if c.Display("nats.credentials") != Redacted || c.Get("nats.credentials") != "/secret/creds" {
		t.Error("Display/Get of a secret")
	}

	// The seed names alone work.
	c, err = Resolve(ctx, nil, envOf(map[string]string{"MAX_CONCURRENT_REQUESTS": "2", "DATABASE_PATH": "/x/y.db", "THETADATA_BASE_URL": "http://h:1/"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Concurrency != 2 || c.DBPath != "/x/y.db" || c.ThetaBaseURL != "http://h:1" {
		t.Errorf("seed env: %+v", c)
	}
}

func TestResolveRejectsBadValues(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		flags map[string]string
		env   map[string]string
		store fakeStore
		want  []string
	}{
		{"env non-numeric", nil, map[string]string{"SPX_THETADATA_CONCURRENCY": "lots"}, nil, []string{"thetadata.concurrency", `"lots"`, "SPX_THETADATA_CONCURRENCY", "whole number"}},
		{"stored out of range", nil, nil, fakeStore{"thetadata.concurrency": "500"}, []string{"500 is out of range", "spx config set thetadata.concurrency"}},
		{"flag bad date", map[string]string{"processing.start_date": "2024-02-30"}, nil, nil, []string{"--processing.start_date", "has no day 30"}},
		{"unknown flag key", map[string]string{"thetadata.concurency": "4"}, nil, nil, []string{`did you mean "thetadata.concurrency"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var store StoredConfig
			if tt.store != nil {
				store = tt.store
			}
			_, err := Resolve(ctx, tt.flags, envOf(tt.env), store)
			if err == nil {
				t.Fatal("Resolve succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateValue(t *testing.T) {
	tests := []struct {
		key, value string
		wantErr    string // "" = valid
	}{
		{"thetadata.concurrency", "8", ""},
		{"thetadata.concurrency", "abc", "whole number from 1 to 128"},
		{"thetadata.concurrency", "129", "129 is out of range"},
		{"thetadata.concurrency", "0", "out of range"},
		{"thetadata.concurency", "4", `unknown config key "thetadata.concurency"; did you mean "thetadata.concurrency"?`},
		{"procesing.roots", "SPX", `did you mean "processing.roots"`},
		{"zzzzzzzzzzzzzzzzzzzzzzzzzzzz", "1", "'spx config get' lists the keys"},
		{"processing.start_date", "2024-01-02", ""},
		{"processing.start_date", "2024/01/02", "use YYYY-MM-DD"},
		{"processing.start_date", "yesterday", "use YYYY-MM-DD"},
		{"processing.datasets", "greeks,quote", ""},
		{"processing.datasets", "greeks,trades", "unknown dataset"},
		{"processing.datasets", "greeks,greeks", "listed twice"},
		{"processing.roots", "SPXW,SPX", ""},
		{"processing.roots", "spxw", "upper-case"},
		{"processing.roots", "", "at least one root"},
		{"processing.interval", "5m", ""},
		{"processing.interval", "2m", "must be one of"},
		{"processing.interval", "tick", "must be one of"},
		{"thetadata.api", "v2", ""},
		{"thetadata.api", "v4", "auto, v3, v2"},
		{"thetadata.base_url", "http://127.0.0.1:25503", ""},
		{"thetadata.base_url", "ftp://x", "http(s) URL"},
		{"thetadata.base_url", "127.0.0.1:25503", "http(s) URL"},
		{"thetadata.timeout", "90s", ""},
		{"thetadata.timeout", "5", "positive duration"},
		{"nats.url", "nats://a:4222,nats://b:4222", ""},
		{"nats.url", "http://a:4222", "NATS URL"},
		{"nats.listen", "0.0.0.0:4222", ""},
		{"nats.listen", "4222", "host:port"},
		{"processing.output_dir", "", "must not be empty"},
		{"nats.credentials", "/tmp/x.creds", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			err := ValidateValue(tt.key, tt.value)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	var uk *UnknownKeyError
	if !errors.As(ValidateValue("nope.nope", "1"), &uk) {
		t.Error("unknown key is not an *UnknownKeyError")
	}
}

func TestCheckDirs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	good := Default()
	good.OutputDir = filepath.Join(dir, "out", "deeper") // creatable
	good.TempDir = dir
	good.DBPath = filepath.Join(dir, "spx.db")
	if errs := CheckDirs(good); len(errs) != 0 {
		t.Errorf("CheckDirs(good) = %v", errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("CheckDirs created a directory")
	}

	bad := good
	bad.OutputDir = file
	bad.TempDir = filepath.Join(file, "sub")
	bad.DBPath = filepath.Join(dir, "missing", "spx.db")
	errs := CheckDirs(bad)
	want := []string{
		fmt.Sprintf("processing.output_dir %s is a file, not a directory: choose another path", file),
		"processing.temp_dir " + filepath.Join(file, "sub") + " cannot be created",
		"directory " + filepath.Join(dir, "missing") + " does not exist",
	}
	if len(errs) != len(want) {
		t.Fatalf("CheckDirs(bad) = %v, want %d errors", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
		}
	}
}

func TestProbeTerminal(t *testing.T) {
	v3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/terminal/mdds/status" {
			fmt.Fprint(w, "CONNECTED\n")
			return
		}
		http.NotFound(w, r)
	}))
	defer v3.Close()
	v2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/system/mdds/status" {
			fmt.Fprint(w, "DISCONNECTED")
			return
		}
		http.NotFound(w, r)
	}))
	defer v2.Close()
	// A listener that accepted and closed: nothing answers there.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	ctx := context.Background()
	tests := []struct {
		url, gen, status, errText string
	}{
		{v3.URL, "v3", "CONNECTED", ""},
		{v2.URL + "/", "v2", "DISCONNECTED", ""},
		{deadURL, "", "", "no Theta Terminal answered at " + deadURL},
	}
	for _, tt := range tests {
		start := time.Now()
		gen, st, err := ProbeTerminal(ctx, tt.url)
		if time.Since(start) > 7*time.Second {
			t.Errorf("probe of %s took %v", tt.url, time.Since(start))
		}
		if tt.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errText) || !strings.Contains(err.Error(), "start the terminal") {
				t.Errorf("ProbeTerminal(%s) err = %v", tt.url, err)
			}
			continue
		}
		if err != nil || gen != tt.gen || st != tt.status {
			t.Errorf("ProbeTerminal(%s) = %q %q %v, want %q %q", tt.url, gen, st, err, tt.gen, tt.status)
		}
	}
}
