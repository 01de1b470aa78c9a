package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/statusdb"
	"github.com/spx-archive/spx/pkg/thetadata"
)

func newConfigCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show, change and check the configuration",
		Long: `Configuration comes from, strongest first: command-line flags, the environment
(SPX_<KEY> with dots as underscores, e.g. SPX_THETADATA_CONCURRENCY, and the
seed's THETADATA_BASE_URL, MAX_CONCURRENT_REQUESTS, PROCESSING_START_DATE,
OUTPUT_DIRECTORY, TEMP_DIRECTORY, DATABASE_PATH), values stored with
'spx config set' (in the status database), and the built-in defaults.`,
		Example: `  spx config get
  spx config set thetadata.concurrency 8
  SPX_PROCESSING_ROOTS=SPXW spx config validate`,
	}
	cmd.AddCommand(newConfigGetCommand(o), newConfigSetCommand(o), newConfigValidateCommand(o))
	return cmd
}

func newConfigGetCommand(o *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "get [KEY]",
		Short: "Show configuration values and where each comes from",
		Long: `Show every configuration key (or one) with its value and its source: flag,
env, stored or default. Secrets (nats.credentials) are shown as ****.

JSON (--format json): an array of {"key","value","source","origin","error"}.`,
		Example: `  spx config get
  spx config get thetadata.concurrency
  spx config get --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := ""
			if len(args) == 1 {
				key = args[0]
			}
			return runConfigGet(cmd.Context(), o, cmd.OutOrStdout(), key, format)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

// settingJSON is one row of `config get --format json`.
type settingJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Origin string `json:"origin,omitempty"`
	Error  string `json:"error,omitempty"`
}

func runConfigGet(ctx context.Context, o *Options, out io.Writer, key, format string) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	if key != "" {
		if err := config.CheckKey(key); err != nil {
			return Usage(err)
		}
	}
	rs, err := openConfigForRead(ctx, o)
	if err != nil {
		return err
	}
	defer rs.close()
	settings, err := config.Explain(ctx, explicitFlags(o), os.Getenv, rs.st)
	if err != nil {
		return configError(err)
	}
	var rows []settingJSON
	for _, s := range settings {
		if key != "" && s.Key != key {
			continue
		}
		r := settingJSON{Key: s.Key, Value: s.Display(), Source: string(s.Source), Origin: s.Origin}
		if s.Err != nil {
			r.Error = s.Err.Error()
		}
		rows = append(rows, r)
	}
	if format == formatJSON {
		return writeJSON(out, rows)
	}
	tw := newTable(out)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE\tNOTE")
	for _, r := range rows {
		note := r.Origin
		if r.Error != "" {
			note = "INVALID: " + r.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Key, orDash(r.Value), r.Source, note)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newConfigSetCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Store a configuration value in the status database",
		Long: `Store a configuration value in the status database. The value is checked
first; nothing is changed when it is wrong. Flags and environment variables
still override stored values. database.path cannot be stored: use --db or
SPX_DATABASE_PATH.`,
		Example: `  spx config set thetadata.concurrency 8
  spx config set processing.roots SPXW
  spx config set processing.start_date 2022-01-03`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigSet(cmd.Context(), o, cmd.OutOrStdout(), args[0], args[1])
		},
	}
}

func runConfigSet(ctx context.Context, o *Options, out io.Writer, key, value string) error {
	k, ok := config.Lookup(key)
	if !ok {
		return Usage(config.CheckKey(key))
	}
	if k.NotStored {
		return Usagef("%s cannot be stored in the database it names: use --db or %s", key, config.EnvName(key))
	}
	if err := config.ValidateValue(key, value); err != nil {
		return Usage(err)
	}
	switch key {
	case "processing.output_dir", "processing.temp_dir", "nats.store_dir":
		if key == "processing.output_dir" && strings.HasPrefix(value, config.S3Scheme) {
			break // a bucket: spx config validate reaches it
		}
		if err := config.CheckDir(key, value); err != nil {
			return Usage(err)
		}
	}
	s, err := openStoreForWrite(ctx, o)
	if errors.Is(err, statusdb.ErrLocked) {
		// A running coordinator holds the database: store it through its
		// control API, if it answers where this machine's roles meet.
		if ok, serr := configSetRunning(ctx, o, out, key, value); ok {
			return serr
		}
	}
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetConfig(ctx, key, value); err != nil {
		return fmt.Errorf("storing %s: %w", key, err)
	}
	fmt.Fprintf(out, "%s = %s (stored in %s)\n", key, displayOf(key, value), s.Path())
	if f, isFlag := explicitFlags(o)[key]; isFlag {
		fmt.Fprintf(out, "note: the flag given on this command line (%s) overrides the stored value\n", displayOf(key, f))
	}
	for _, name := range config.EnvNames(key) {
		if os.Getenv(name) != "" {
			fmt.Fprintf(out, "note: environment variable %s is set and overrides the stored value\n", name)
			break
		}
	}
	return s.Close()
}

func displayOf(key, value string) string {
	if value != "" && config.IsSecret(key) {
		return config.Redacted
	}
	return value
}

func newConfigValidateCommand(o *Options) *cobra.Command {
	var format string
	var deep deepFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check every configuration value, the directories, the terminal and NATS",
		Long: `Check every configuration value, that the output, temporary and database
directories are usable (an s3:// output_dir: that the bucket answers and the
credentials may write there), that a Theta Terminal answers at
thetadata.base_url (v3 health endpoint first, then v2; 3 s each; through spx
terminal-proxy with thetadata.token) and, when nats.url is set, that NATS
accepts a connection. Every problem is listed; the exit code is 1 when there
is any, 2 when a flag on this command line has an invalid value.

With --deep it then exercises every list and history endpoint spx uses
against the terminal (for --deep-root, default the first of processing.roots,
on --deep-date, default the latest trade date of the nearest expiration) and
reports each difference from what spx expects: columns and their order,
value types, line endings, the format=json envelope, the 472 answer to a day
without a session, v3 paging, and whether spx's own readers take the answer
(docs/thetadata.md lists what is compared). A user with a real terminal can
send that report.

JSON (--format json): {"ok":bool,"terminal":{"generation","status"},
"deep":[{"endpoint","url","rows","differences":[...],"notes":[...]}],"problems":[...]}.`,
		Example: `  spx config validate
  spx --terminal http://127.0.0.1:25510 config validate
  spx config validate --deep --format json > terminal-report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfigValidate(cmd.Context(), o, cmd.OutOrStdout(), format, deep)
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().BoolVar(&deep.on, "deep", false, "also exercise every list and history endpoint spx uses and report differences from what spx expects")
	cmd.Flags().StringVar(&deep.root, "deep-root", "", "root to ask about with --deep (default: the first of processing.roots)")
	cmd.Flags().StringVar(&deep.date, "deep-date", "", "trade date (YYYY-MM-DD) to ask about with --deep (default: the latest trade date of the nearest expiration)")
	return cmd
}

type deepFlags struct {
	on         bool
	root, date string
}

// validateReport is the result of `config validate`.
type validateReport struct {
	OK       bool              `json:"ok"`
	Terminal *terminalProbe    `json:"terminal,omitempty"`
	Deep     []thetadata.Check `json:"deep,omitempty"`
	NATS     string            `json:"nats,omitempty"`
	Archive  string            `json:"archive,omitempty"`
	Problems []string          `json:"problems"`
}

type terminalProbe struct {
	Generation string `json:"generation"`
	Status     string `json:"status"`
}

func runConfigValidate(ctx context.Context, o *Options, out io.Writer, format string, deep deepFlags) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	var deepDate spx.Date
	if deep.date != "" {
		if deepDate, err = spx.ParseDate(deep.date); err != nil {
			return Usagef("invalid --deep-date %q: use YYYY-MM-DD", deep.date)
		}
	}
	rep := validateReport{Problems: []string{}}
	var stored config.StoredConfig
	st, _, closeFn, err := openStoreForRead(ctx, o)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	} else {
		defer closeFn()
		stored = st
	}
	settings, err := config.Explain(ctx, explicitFlags(o), os.Getenv, stored)
	if err != nil {
		return configError(err)
	}
	var valid []config.Setting
	terminalURLValid := true
	for _, s := range settings {
		if s.Err != nil {
			ve := &config.ValueError{Key: s.Key, Value: s.Value, Source: s.Source, Origin: s.Origin, Err: s.Err}
			if s.Source == config.FromFlag {
				return Usage(ve) // typed on this command line: nothing to validate against
			}
			rep.Problems = append(rep.Problems, ve.Error())
			terminalURLValid = terminalURLValid && s.Key != "thetadata.base_url"
			continue
		}
		valid = append(valid, s)
	}
	// Invalid keys fall back to their defaults for the checks below.
	cfg, err := config.FromSettings(valid)
	if err != nil {
		return err
	}
	for _, e := range config.CheckDirs(cfg) {
		rep.Problems = append(rep.Problems, e.Error())
	}
	if _, _, s3 := cfg.S3Archive(); s3 {
		if err := checkS3Archive(ctx, cfg, o); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		} else {
			rep.Archive = "reachable at " + cfg.OutputDir + ", writable"
		}
	}
	if !terminalURLValid {
		// Probing the default address instead would report some other
		// terminal as this one.
		rep.Problems = append(rep.Problems, "terminal not checked: thetadata.base_url is invalid (above)")
	} else if gen, status, err := probeTerminal(ctx, cfg); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	} else {
		rep.Terminal = &terminalProbe{Generation: gen, Status: status}
		if cfg.ThetaAPI != "auto" && cfg.ThetaAPI != gen {
			rep.Problems = append(rep.Problems, fmt.Sprintf("thetadata.api is %s but the terminal answered as %s: set thetadata.api to auto or %s", cfg.ThetaAPI, gen, gen))
		}
		if status != "CONNECTED" {
			rep.Problems = append(rep.Problems, fmt.Sprintf("the %s terminal answered %s, not CONNECTED: check its login and network, then try again", gen, status))
		}
		if deep.on {
			rep.Deep, rep.Problems = deepCheck(ctx, o, cfg, deep.root, deepDate, rep.Problems)
		}
	}
	if cfg.NATSURL == "" {
		rep.NATS = "embedded (nats.url is empty)"
	} else if err := probeNATS(ctx, cfg.NATSURL); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	} else {
		rep.NATS = "reachable at " + cfg.NATSURL
	}
	rep.OK = len(rep.Problems) == 0

	if format == formatJSON {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		tw := newTable(out)
		for _, s := range settings {
			mark := "ok"
			if s.Err != nil {
				mark = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\n", mark, s.Key, orDash(s.Display()), s.Source)
		}
		_ = tw.Flush()
		if rep.Terminal != nil {
			fmt.Fprintf(out, "terminal: %s answered %s\n", rep.Terminal.Generation, rep.Terminal.Status)
		}
		for _, ch := range rep.Deep {
			mark := "ok"
			if len(ch.Differences) > 0 {
				mark = "DIFF"
			}
			fmt.Fprintf(out, "deep %s\t%s\t%d rows\t%s\n", mark, ch.Endpoint, ch.Rows, ch.URL)
			for _, d := range ch.Differences {
				fmt.Fprintf(out, "    - %s\n", d)
			}
			for _, n := range ch.Notes {
				fmt.Fprintf(out, "    note: %s\n", n)
			}
		}
		if rep.NATS != "" {
			fmt.Fprintf(out, "nats: %s\n", rep.NATS)
		}
		if rep.Archive != "" {
			fmt.Fprintf(out, "archive: %s\n", rep.Archive)
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(out, "problem: %s\n", p)
		}
		if rep.OK {
			fmt.Fprintln(out, "configuration OK")
		}
	}
	if !rep.OK {
		return fmt.Errorf("configuration has %d problem(s), listed above: fix them and run 'spx config validate' again", len(rep.Problems))
	}
	return nil
}

// probeTerminal finds the terminal at thetadata.base_url (empty: the
// default address of each generation), v3 first, presenting
// thetadata.token as spx terminal-proxy expects, and asks its status: the
// generation that answered and its status word.
func probeTerminal(ctx context.Context, cfg config.Config) (generation, status string, err error) {
	c, err := thetadata.New(ctx, thetadata.Options{BaseURL: cfg.ThetaBaseURL, API: "auto", Token: cfg.ThetaToken,
		ConnectTimeout: 3 * time.Second, HeaderTimeout: 3 * time.Second})
	if err != nil {
		return "", "", err
	}
	status, err = c.Health(ctx)
	if err != nil {
		return "", "", err
	}
	return c.Generation(), status, nil
}

// deepCheck runs thetadata's DeepCheck against the configured terminal and
// adds a problem per endpoint that differs from what spx expects.
func deepCheck(ctx context.Context, o *Options, cfg config.Config, root string, date spx.Date, problems []string) ([]thetadata.Check, []string) {
	if root == "" && len(cfg.Roots) > 0 {
		root = cfg.Roots[0]
	}
	c, err := thetadata.New(ctx, thetadata.Options{BaseURL: cfg.ThetaBaseURL, API: cfg.ThetaAPI, V3Format: cfg.ThetaFormat,
		Token: cfg.ThetaToken, Timeout: cfg.Timeout, Logger: o.Logger()})
	if err != nil {
		return nil, append(problems, "deep check: "+err.Error())
	}
	checks, err := c.DeepCheck(ctx, root, date)
	if err != nil {
		problems = append(problems, "deep check: "+err.Error())
	}
	for _, ch := range checks {
		if len(ch.Differences) > 0 {
			problems = append(problems, fmt.Sprintf("deep check: %s answers differently from what spx expects (%d difference(s), listed above): send this report with the terminal's version", ch.Endpoint, len(ch.Differences)))
		}
	}
	return checks, problems
}

// probeNATS checks that the first server of a NATS URL list accepts a TCP
// connection within 3 s (the pipeline does the full handshake).
func probeNATS(ctx context.Context, urls string) error {
	var lastErr error
	for s := range strings.SplitSeq(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			lastErr = err
			continue
		}
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "4222")
		}
		d := net.Dialer{Timeout: 3 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", host)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		lastErr = err
	}
	return fmt.Errorf("nats.url %s: no server accepted a connection (%v): start NATS or 'spx run', or fix nats.url", urls, lastErr)
}

// checkS3Archive checks that an s3:// archive answers, its credentials are
// accepted and may write there (a probe object, removed again), within 15 s.
func checkS3Archive(ctx context.Context, cfg config.Config, o *Options) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	arc, err := pipeline.OpenArchive(cfg, o.Logger())
	if err != nil {
		return err
	}
	return pipeline.CheckArchive(ctx, arc, true)
}

// configSetRunning stores a value through the running coordinator's control
// API. ok is false when no coordinator answers (the caller reports the
// locked database instead).
func configSetRunning(ctx context.Context, o *Options, out io.Writer, key, value string) (ok bool, err error) {
	cl, err := connectCluster(ctx, o, o.Logger(), false)
	if err != nil {
		return false, nil
	}
	defer cl.Close()
	if err := cl.client.ConfigSet(ctx, key, value); err != nil {
		return true, fmt.Errorf("storing %s through the running coordinator: %w", key, err)
	}
	fmt.Fprintf(out, "%s = %s (stored by the running coordinator, which holds the database)\n", key, displayOf(key, value))
	if slices.Contains(liveKeys, key) {
		fmt.Fprintln(out, "note: send the coordinator SIGHUP (systemctl reload spx-coordinator, or kill -HUP <pid>) to apply it now")
	} else {
		fmt.Fprintln(out, "note: takes effect when the coordinator and the workers restart")
	}
	return true, nil
}
