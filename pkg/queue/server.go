package queue

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configures the embedded NATS server.
type ServerOptions struct {
	Listen   string // client address host:port; port 0 picks a free port
	Monitor  string // monitoring address host:port; "" disables; port 0 picks a free port
	StoreDir string // JetStream file storage directory
	Logger   *slog.Logger

	// Auth is what clients must present. Without credentials the server
	// only listens on loopback: StartServer refuses a non-loopback Listen.
	Auth Auth
	// Name is the server name (default "spx"); cluster nodes need
	// distinct names.
	Name string
	// Cluster, when set, makes this server one node of a NATS cluster.
	Cluster *ClusterOptions
}

// CheckExposure refuses what other machines could use unchecked: a
// non-loopback Listen without client credentials (ErrInsecureListen), and
// a non-loopback Monitor at all (ErrOpenMonitor): nats-server's monitoring
// port has no authentication. The errors say what to do.
func (o ServerOptions) CheckExposure() error {
	if host, _, err := splitHostPort(o.Listen); err == nil && !IsLoopback(host) && !o.Auth.ServerChecksClients() {
		return fmt.Errorf("%w (nats.listen %s): set nats.user and nats.password, nats.token, nats.nkey_seed_file, or nats.tls_verify_clients with nats.tls_ca; or listen on 127.0.0.1 (docs/multi-machine.md)", ErrInsecureListen, o.Listen)
	}
	if o.Monitor == "" {
		return nil
	}
	if host, _, err := splitHostPort(o.Monitor); err == nil && !IsLoopback(host) {
		return fmt.Errorf("%w (nats.monitor %s): it has no authentication and shows every stream, consumer and connection; keep it on 127.0.0.1:8222 and reach it from elsewhere through ssh -L 8222:127.0.0.1:8222, or turn it off with --monitor \"\" (docs/multi-machine.md)", ErrOpenMonitor, o.Monitor)
	}
	return nil
}

// Server is an embedded NATS server with JetStream.
type Server struct {
	srv *server.Server
}

// StartServer starts an in-process NATS server with JetStream on disk and
// waits until it accepts connections.
func StartServer(o ServerOptions) (*Server, error) {
	if err := o.CheckExposure(); err != nil {
		return nil, err
	}
	host, port, err := splitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("reading nats.listen %q: %w (want host:port, e.g. 127.0.0.1:4222)", o.Listen, err)
	}
	name := o.Name
	if name == "" {
		name = "spx"
	}
	opts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if o.Monitor != "" {
		mh, mp, err := splitHostPort(o.Monitor)
		if err != nil {
			return nil, fmt.Errorf("reading nats.monitor %q: %w (want host:port, e.g. 127.0.0.1:8222)", o.Monitor, err)
		}
		opts.HTTPHost, opts.HTTPPort = mh, mp
	}
	if err := o.Auth.applyServer(opts); err != nil {
		return nil, fmt.Errorf("configuring NATS security: %w", err)
	}
	if o.Cluster != nil {
		if err := o.Cluster.apply(opts); err != nil {
			return nil, err
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring the embedded NATS server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start on %s within 15s: is the port in use? choose another with --listen, or point --nats at a running server", o.Listen)
	}
	if o.Logger != nil {
		o.Logger.Info("embedded NATS started", "url", clientURL(srv), "monitor", monitorURL(srv), "store_dir", o.StoreDir, "auth", o.Auth.String())
	}
	return &Server{srv: srv}, nil
}

// ClientURL is the URL clients on this machine connect to (an unspecified
// listen address such as 0.0.0.0 is reached over 127.0.0.1).
func (s *Server) ClientURL() string { return clientURL(s.srv) }

// NATS returns the underlying server (tests, cluster helpers).
func (s *Server) NATS() *server.Server { return s.srv }

func clientURL(srv *server.Server) string {
	u := srv.ClientURL()
	a, ok := srv.Addr().(*net.TCPAddr)
	if !ok || !a.IP.IsUnspecified() {
		return u
	}
	scheme := "nats"
	if strings.HasPrefix(u, "tls://") {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
}

// MonitorURL is the base URL of the monitoring endpoint ("" if disabled).
func (s *Server) MonitorURL() string { return monitorURL(s.srv) }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

func monitorURL(srv *server.Server) string {
	a := srv.MonitorAddr()
	if a == nil {
		return ""
	}
	return "http://" + a.String()
}

// splitHostPort maps port 0 to the server's "random port".
func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}
