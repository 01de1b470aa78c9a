package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/spx"
)

// convertArgs are the convert command's flags and arguments.
type convertArgs struct {
	dataset      string
	rowGroupRows int
	parallelism  int
	in, out      string
}

func newConvertCommand(o *Options) *cobra.Command {
	var a convertArgs
	cmd := &cobra.Command{
		Use:   "convert IN.ndjson[.zst|.s2] OUT.parquet",
		Short: "Convert a staged NDJSON file into one archive Parquet file",
		Long: `Convert runs the writer's converter on a file: it reads NDJSON with one JSON
object per row (keys as the dataset's column names) or one JSON array per row
(the values in column order, as the fetchers stage them; both forms may mix),
zstd-compressed when the name ends in .zst and s2 when it ends in .s2 (a
staged object as stored), and writes OUT.parquet atomically (OUT.parquet.tmp,
fsync, rename), rows sorted by (strike, right, timestamp).

It prints the rows, contracts, bytes, SHA-256 and throughput. A malformed
line stops the conversion with its line number; nothing is left at OUT.`,
		Example: `  spx convert dump.ndjson.zst exp=2024-03-15.parquet
  nats object get spx-staging greeks/SPXW/20240315/20240315.ndjson.s2 -O x.ndjson.s2 && spx convert x.ndjson.s2 x.parquet
  spx convert --dataset quote --row-group-rows 500000 in.ndjson out.parquet`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return Usagef("convert takes two arguments, IN.ndjson[.zst] and OUT.parquet; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a.in, a.out = args[0], args[1]
			return runConvert(cmd.Context(), cmd.OutOrStdout(), a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.dataset, "dataset", string(spx.Greeks), "dataset of the input: greeks, quote, ohlc, eod or open_interest")
	f.IntVar(&a.rowGroupRows, "row-group-rows", 1<<20, "most rows in one Parquet row group")
	f.IntVar(&a.parallelism, "parallelism", 0, "decode/encode workers (default: number of CPUs)")
	return cmd
}

func runConvert(ctx context.Context, out io.Writer, a convertArgs) error {
	ds, err := spx.ParseDataset(a.dataset)
	if err != nil {
		return Usage(fmt.Errorf("--dataset: %w", err))
	}
	if a.rowGroupRows <= 0 {
		return Usagef("--row-group-rows %d: give a positive number of rows", a.rowGroupRows)
	}
	if a.parallelism < 0 {
		return Usagef("--parallelism %d: give 0 (all CPUs) or a positive number", a.parallelism)
	}
	st, err := os.Stat(a.in)
	if errors.Is(err, fs.ErrNotExist) {
		return Usagef("input %s does not exist: give the path of a .ndjson, .ndjson.zst or .ndjson.s2 file", a.in)
	}
	if err != nil {
		return fmt.Errorf("checking input: %w", err)
	}
	if st.IsDir() {
		return Usagef("input %s is a directory: give the path of a .ndjson, .ndjson.zst or .ndjson.s2 file", a.in)
	}
	r, err := archive.OpenNDJSON(a.in)
	if err != nil {
		return err
	}
	defer r.Close()
	start := time.Now()
	fi, err := archive.WriteFile(ctx, ds, r, a.out, archive.Options{
		RowGroupRows: a.rowGroupRows,
		Parallelism:  a.parallelism,
		Metadata:     map[string]string{"source": "spx convert"},
	})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(out, "file      %s\nrows      %d\ncontracts %d\nbytes     %d\nsha256    %s\nrows/s    %.0f (%.2fs)\n",
		fi.Path, fi.Rows, fi.Contracts, fi.Bytes, fi.SHA256, float64(fi.Rows)/max(secs, 1e-9), secs)
	return nil
}
