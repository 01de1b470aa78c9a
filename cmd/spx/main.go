// Command spx builds and keeps a verified Parquet archive of SPX/SPXW option
// history from a Theta Terminal. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // America/New_York must resolve on machines without a tz database

	"github.com/spx-archive/spx/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
