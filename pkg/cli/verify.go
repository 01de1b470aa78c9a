package cli

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/spx"
)

func newVerifyCommand(o *Options) *cobra.Command {
	var format, from, to string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-read every Parquet file and check it against the status database and manifests",
		Long: `Re-read every Parquet file recorded written: its SHA-256 and row count must
match the status database, every column must decode, and the day directory's
_manifest.json must list it with the same rows and SHA-256; each successful
day's checksum must match its manifests. Every problem is listed with the fix
(spx retry <date>); exit status 1 if there is any.`,
		Example: "  spx verify\n  spx verify --from 2024-01-01 --to 2024-01-31",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd.Context(), o, cmd.OutOrStdout(), format, from, to)
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().StringVar(&from, "from", "", "first trade date, YYYY-MM-DD")
	cmd.Flags().StringVar(&to, "to", "", "last trade date, YYYY-MM-DD")
	return cmd
}

func runVerify(ctx context.Context, o *Options, out io.Writer, format, fromS, toS string) error {
	format, err := outputFormat(format, out)
	if err != nil {
		return err
	}
	from, to, err := parseOptionalRange("from", fromS, "to", toS)
	if err != nil {
		return err
	}
	rs, err := openStateForRead(ctx, o)
	if err != nil {
		return err
	}
	defer rs.close()
	st := rs.st
	cfg, err := resolveConfig(ctx, o, st)
	if err != nil {
		return err
	}
	arc, err := pipeline.OpenArchive(cfg, o.Logger())
	if err != nil {
		return err
	}
	if err := pipeline.CheckArchive(ctx, arc, false); err != nil {
		return fmt.Errorf("cannot read the archive %s: %w", cfg.OutputDir, err)
	}
	rep, err := pipeline.Verify(ctx, st, arc, from, to)
	if err != nil {
		return err
	}
	if format == formatJSON {
		if err := writeJSON(out, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(out, "%s  %s\n    %s\n", p.Date, p.File, p.Message)
		}
		fmt.Fprintf(out, "checked %d files and %d days: %d problems\n", rep.Files, rep.Days, len(rep.Problems))
		var dates []spx.Date
		for _, p := range rep.Problems {
			if !slices.Contains(dates, p.Date) {
				dates = append(dates, p.Date)
			}
		}
		for _, d := range dates {
			fmt.Fprintf(out, "fix: spx retry %s\n", d)
		}
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("verify found %d problems", len(rep.Problems))
	}
	return nil
}
