package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/termproxy"
)

// proxyTokenEnv names the environment variable holding the proxy's token.
const proxyTokenEnv = "SPX_PROXY_TOKEN"

// terminalProxyArgs are the terminal-proxy command's flags as given.
type terminalProxyArgs struct {
	listen    string
	token     string
	tokenFile string
	maxIdle   int
}

func newTerminalProxyCommand(o *Options) *cobra.Command {
	var a terminalProxyArgs
	cmd := &cobra.Command{
		Use:   "terminal-proxy",
		Short: "Let fetchers on other machines use this machine's Theta Terminal",
		Long: `Run on the Theta Terminal's host so fetchers elsewhere can use the terminal.

The terminal answers requests from one client address only (476 WRONG_IP),
so remote fetchers must not call it directly: they call this proxy, which
checks their token and forwards their requests to the terminal from
loopback, streaming the answer back as it arrives. It forwards GET and HEAD
of the terminal's read-only endpoints only: /v3/{option,stock,index}/
{list,history,snapshot,at_time}/..., /v3/calendar/..., /v3/interest_rate/
history/..., /v3/terminal/{mdds,fpss}/status and their v2 counterparts
(/v2/list/, /v2/hist/, /v2/bulk_hist/, /v2/snapshot/, /v2/at_time/,
/v2/page/, /v2/system/{mdds,fpss}/status); any other method is answered 405
and any other path (/v3/terminal/shutdown, flat files) 403.

Clients send "Authorization: Bearer <token>". The token comes from
--token-file, --token or the SPX_PROXY_TOKEN environment variable (first
given wins); the proxy refuses to listen on an address other machines can
reach without one. Point remote fetchers' thetadata.base_url (--terminal) at
http://<this host>:<port> and give them the same token.

The proxy answers two paths itself:
  GET /proxy/health   "ok <terminal status word>" (no token needed)
  GET /proxy/stats    JSON: in_flight, max_in_flight, requests by status,
                      bytes, upstream_errors (token needed)

--terminal (the global flag) names the terminal; without it,
SPX_THETADATA_BASE_URL / THETADATA_BASE_URL, then whichever of
http://127.0.0.1:25503 (v3) and http://127.0.0.1:25510 (v2) answers.`,
		Example: `  openssl rand -hex 32 > ~/.spx-proxy.token && chmod 600 ~/.spx-proxy.token
  spx terminal-proxy --listen 0.0.0.0:25580 --terminal http://127.0.0.1:25503 --token-file ~/.spx-proxy.token
  curl -H "Authorization: Bearer $(cat ~/.spx-proxy.token)" http://terminal-host:25580/proxy/stats`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTerminalProxy(cmd.Context(), o, a, os.Getenv, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.listen, "listen", "0.0.0.0:25580", "address to accept fetchers on (host:port)")
	f.StringVar(&a.tokenFile, "token-file", "", "file holding the token clients must send (preferred)")
	f.StringVar(&a.token, "token", "", "token clients must send (visible in the process list: prefer --token-file or "+proxyTokenEnv+")")
	f.IntVar(&a.maxIdle, "max-idle-conns", termproxy.DefaultMaxIdleConns, "keep-alive connections to the terminal kept open between requests")
	return cmd
}

func runTerminalProxy(ctx context.Context, o *Options, a terminalProxyArgs, getenv func(string) string, out io.Writer) error {
	log := o.Logger()
	token, err := proxyToken(a, getenv, log)
	if err != nil {
		return err
	}
	if err := termproxy.CheckListen(a.listen, token); err != nil {
		return Usage(err)
	}
	if a.maxIdle < 1 {
		return Usagef("--max-idle-conns is %d: give 1 or more", a.maxIdle)
	}
	terminal := proxyTerminal(ctx, o, getenv, log)
	p, err := termproxy.New(termproxy.Config{Terminal: terminal, Token: token, Logger: log, MaxIdleConns: a.maxIdle})
	if err != nil {
		if errors.Is(err, termproxy.ErrConfig) {
			return Usage(err)
		}
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w: another program holds the port, or the address is not this machine's; pick another --listen", a.listen, err)
	}
	auth := "token required"
	if token == "" {
		auth = "no token: loopback clients only"
	}
	fmt.Fprintf(out, "terminal-proxy listening on %s, forwarding to %s (%s)\n", ln.Addr(), p.Terminal(), auth)
	return p.Serve(ctx, ln)
}

// proxyToken returns the token from --token-file, --token or the
// environment, in that order; "" when none is given.
func proxyToken(a terminalProxyArgs, getenv func(string) string, log *slog.Logger) (string, error) {
	if a.token != "" && a.tokenFile != "" {
		return "", Usagef("both --token and --token-file given: use one (--token-file keeps the token out of the process list)")
	}
	switch {
	case a.tokenFile != "":
		fi, err := os.Stat(a.tokenFile)
		if err != nil {
			return "", Usagef("reading the proxy token: %w: check --token-file", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the token file can be read by other users; chmod 600 it", "file", a.tokenFile)
		}
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return "", Usagef("reading the proxy token: %w: check --token-file", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", Usagef("token file %s is empty: write a token into it, e.g. openssl rand -hex 32 > %s", a.tokenFile, a.tokenFile)
		}
		return tok, nil
	case a.token != "":
		return strings.TrimSpace(a.token), nil
	}
	return strings.TrimSpace(getenv(proxyTokenEnv)), nil
}

// proxyTerminal picks the terminal to forward to: --terminal, then the
// environment, then whichever default address answers (v3 if none does: the
// terminal may start after the proxy, which answers 503 until it does).
func proxyTerminal(ctx context.Context, o *Options, getenv func(string) string, log *slog.Logger) string {
	if o.Terminal != "" {
		return o.Terminal
	}
	for _, name := range config.EnvNames("thetadata.base_url") {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
	}
	gen, status, err := config.ProbeTerminal(ctx, "")
	if err != nil {
		log.Warn("no Theta Terminal answers yet; forwarding to the v3 default address (answering 503 until it starts)", "terminal", config.DefaultV3URL, "err", err)
		return config.DefaultV3URL
	}
	if gen == "v2" {
		log.Info("found a v2 Theta Terminal", "terminal", config.DefaultV2URL, "status", status)
		return config.DefaultV2URL
	}
	log.Info("found a v3 Theta Terminal", "terminal", config.DefaultV3URL, "status", status)
	return config.DefaultV3URL
}
