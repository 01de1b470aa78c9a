// Package cli holds spx's cobra commands, one file per command. Commands
// parse flags, resolve configuration and call into the packages that do the
// work; they never hold business logic of their own. Output goes only through
// cmd.OutOrStdout / cmd.ErrOrStderr.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Options holds the global flags shared by every command. Empty strings mean
// "not given on the command line" so configuration precedence (flag > env >
// stored > default) can be applied by pkg/config.
type Options struct {
	DB        string // --db (database.path)
	OutputDir string // --output-dir (processing.output_dir)
	Terminal  string // --terminal (thetadata.base_url)
	NATS      string // --nats (nats.url; empty = embedded)
	LogFormat string // --log-format text|json
	LogLevel  string // --log-level debug|info|warn|error

	// Flags records which global flags were set explicitly.
	Flags map[string]bool

	Stdout io.Writer
	Stderr io.Writer

	// Now is the clock that decides which days are final (nil: the wall
	// clock); tests set it, and a pipeline started in-process runs on it.
	Now func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Logger returns the slog logger the flags ask for, writing to stderr.
func (o *Options) Logger() *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(o.LogLevel))
	hopts := &slog.HandlerOptions{Level: level}
	if o.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(o.Stderr, hopts))
	}
	return slog.New(slog.NewTextHandler(o.Stderr, hopts))
}

// checkLogFlags refuses a --log-level or --log-format spx does not know,
// instead of logging at info in text as if nothing had been asked.
func checkLogFlags(o *Options) error {
	switch strings.ToLower(o.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return Usagef("invalid --log-level %q: use debug, info, warn or error", o.LogLevel)
	}
	switch o.LogFormat {
	case "text", "json":
	default:
		return Usagef("invalid --log-format %q: use text or json", o.LogFormat)
	}
	return nil
}

// NewRootCommand builds the spx command tree.
func NewRootCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "spx",
		Short: "Build and keep a verified Parquet archive of SPX/SPXW option history",
		Long: `spx downloads SPX and SPXW index-option history (greeks, quotes, OHLC, EOD,
open interest) from a local Theta Terminal and keeps it as verified Parquet
files, one per (dataset, root, trade date, expiration).

With no configuration, 'spx run' or 'spx process-gaps' starts an embedded NATS
server and every role in one process.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			o.Flags = map[string]bool{}
			cmd.Flags().Visit(func(f *pflag.Flag) { o.Flags[f.Name] = true })
			return checkLogFlags(o)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&o.DB, "db", "", "status database file (database.path, default ./data/spx.db)")
	pf.StringVar(&o.OutputDir, "output-dir", "", "Parquet archive directory (processing.output_dir, default ./data/parquet)")
	pf.StringVar(&o.Terminal, "terminal", "", "Theta Terminal base URL (thetadata.base_url), e.g. http://127.0.0.1:25503")
	pf.StringVar(&o.NATS, "nats", "", "NATS server URL (nats.url); empty runs an embedded server")
	pf.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usage(err) })

	for _, newCmd := range []func(*Options) *cobra.Command{
		newCalendarCommand,
		newConfigCommand,
		newStatusCommand,
		newListCommand,
		newGapAnalysisCommand,
		newSimTerminalCommand,
		newConvertCommand,
		newRunCommand,
		newCoordinatorCommand,
		newFetcherCommand,
		newWriterCommand,
		newProcessCommand,
		newProcessRangeCommand,
		newProcessGapsCommand,
		newEnqueueGapsCommand,
		newRetryCommand,
		newVerifyCommand,
		newTerminalProxyCommand,
	} {
		root.AddCommand(newCmd(o))
	}
	addProfiling(root) // hidden --cpuprofile/--memprofile, default memory limits (profile.go)
	return root
}

// Main runs the CLI with args and returns the process exit code: 0 ok,
// 1 failure, 2 usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, &Options{Stdout: stdout, Stderr: stderr}, args)
}

// execute is Main with the options given (tests set o.Now).
func execute(ctx context.Context, o *Options, args []string) int {
	stdout, stderr := o.Stdout, o.Stderr
	root := NewRootCommand(o)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "spx:", err)
	return ExitCode(err)
}

// UsageError marks an error as the user's input being wrong (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a usage error.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// Usagef formats a usage error.
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var u *UsageError
	if errors.As(err, &u) {
		return 2
	}
	if msg := err.Error(); len(msg) > 0 && (hasPrefix(msg, "unknown command") || hasPrefix(msg, "unknown flag") || hasPrefix(msg, "accepts ") || hasPrefix(msg, "requires ")) {
		return 2
	}
	return 1
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// isTerminal reports whether w is an interactive terminal (table output and
// colours by default).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
