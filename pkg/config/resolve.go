package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// StoredConfig is where `spx config set` keeps values (the status store).
type StoredConfig interface {
	AllConfig(ctx context.Context) (map[string]string, error)
}

// Source says where a setting's value came from.
type Source string

// Sources, strongest first.
const (
	FromFlag    Source = "flag"
	FromEnv     Source = "env"
	FromStored  Source = "stored"
	FromDefault Source = "default"
)

// Setting is one key's resolved value and where it came from.
type Setting struct {
	Key    string
	Value  string // the raw value; use Display for output
	Source Source
	// Origin names the flag or environment variable the value came from
	// ("" for stored and default values).
	Origin string
	// Err is the validation error of Value (nil when valid).
	Err error
}

// Display is the value as a person may see it (secrets redacted).
func (s Setting) Display() string { return displayValue(s.Key, s.Value) }

// ValueError is a configuration value that does not validate.
type ValueError struct {
	Key, Value string
	Source     Source
	Origin     string
	Err        error
}

func (e *ValueError) Error() string {
	where := string(e.Source)
	switch e.Source {
	case FromFlag:
		where = "flag --" + e.Origin
	case FromEnv:
		where = "environment variable " + e.Origin
	case FromStored:
		where = "stored config; change it with 'spx config set " + e.Key + " VALUE'"
	}
	return fmt.Sprintf("%s %q (from %s): %v", e.Key, displayValue(e.Key, e.Value), where, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// seedEnv maps the seed project's environment names (and SPX_PROXY_TOKEN,
// the name spx terminal-proxy reads) to keys. SPX_ names win.
var seedEnv = map[string]string{
	"thetadata.base_url":    "THETADATA_BASE_URL",
	"thetadata.concurrency": "MAX_CONCURRENT_REQUESTS",
	"processing.start_date": "PROCESSING_START_DATE",
	"processing.output_dir": "OUTPUT_DIRECTORY",
	"processing.temp_dir":   "TEMP_DIRECTORY",
	"database.path":         "DATABASE_PATH",
	"thetadata.token":       "SPX_PROXY_TOKEN",
}

// EnvName is the SPX_ environment variable of key, e.g.
// SPX_THETADATA_BASE_URL for thetadata.base_url.
func EnvName(key string) string {
	return "SPX_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// EnvNames lists the environment variables that set key, strongest first.
func EnvNames(key string) []string {
	names := []string{EnvName(key)}
	if seed, ok := seedEnv[key]; ok {
		names = append(names, seed)
	}
	return names
}

// Explain resolves every key (flag > environment > stored > default) and
// reports each value's source and validation error. flags holds only the
// flags set explicitly, keyed by config key ("database.path"); env is
// os.Getenv or a fake; store may be nil. Stored values for keys spx does
// not know are ignored (an older or newer spx may have written them).
func Explain(ctx context.Context, flags map[string]string, env func(string) string, store StoredConfig) ([]Setting, error) {
	for k := range flags {
		if err := CheckKey(k); err != nil {
			return nil, err
		}
	}
	if env == nil {
		env = func(string) string { return "" }
	}
	var stored map[string]string
	if store != nil {
		var err error
		if stored, err = store.AllConfig(ctx); err != nil {
			return nil, fmt.Errorf("reading stored config: %w", err)
		}
	}
	out := make([]Setting, 0, len(Keys))
	for _, k := range Keys {
		s := Setting{Key: k.Name, Value: k.Default, Source: FromDefault}
		if v, ok := flags[k.Name]; ok {
			s.Value, s.Source, s.Origin = v, FromFlag, flagName(k.Name)
		} else if name, v, ok := lookupEnv(env, k.Name); ok {
			s.Value, s.Source, s.Origin = v, FromEnv, name
		} else if v, ok := stored[k.Name]; ok && !k.NotStored {
			s.Value, s.Source = v, FromStored
		}
		s.Err = k.Validate(s.Value)
		out = append(out, s)
	}
	return out, nil
}

// flagName is the command-line flag that sets key, for messages.
func flagName(key string) string {
	switch key {
	case "database.path":
		return "db"
	case "processing.output_dir":
		return "output-dir"
	case "thetadata.base_url":
		return "terminal"
	case "nats.url":
		return "nats"
	}
	return key
}

func lookupEnv(env func(string) string, key string) (name, value string, ok bool) {
	for _, n := range EnvNames(key) {
		if v := env(n); v != "" {
			return n, v, true
		}
	}
	return "", "", false
}

// Resolve returns the configuration (flag > environment > stored > default).
// An invalid value fails with a *ValueError (several are joined) naming the
// key, the value, where it came from, and what would be right.
func Resolve(ctx context.Context, flags map[string]string, env func(string) string, store StoredConfig) (Config, error) {
	settings, err := Explain(ctx, flags, env, store)
	if err != nil {
		return Config{}, err
	}
	return FromSettings(settings)
}

// FromSettings builds a Config from Explain's settings, failing on the
// first invalid ones.
func FromSettings(settings []Setting) (Config, error) {
	c := Default()
	var errs []error
	for _, s := range settings {
		if s.Err != nil {
			errs = append(errs, &ValueError{Key: s.Key, Value: s.Value, Source: s.Source, Origin: s.Origin, Err: s.Err})
			continue
		}
		k, ok := Lookup(s.Key)
		if !ok {
			continue
		}
		k.set(&c, s.Value)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}
