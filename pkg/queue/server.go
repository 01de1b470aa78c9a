package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	// Disk measures the file system under StoreDir (nil: FileSystem).
	// Tests give a small simulated disk.
	Disk Disk
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
	srv      *server.Server
	storeDir string // JetStream's directory (StoreDir/jetstream)
	disk     Disk

	mu   sync.Mutex
	opts *server.Options // as last given to the server, for RaiseStoreLimit (nil: limit not settable)
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
	disk := o.Disk
	if disk == nil {
		disk = FileSystem
	}
	jsDir := filepath.Join(o.StoreDir, server.JetStreamStoreDir)
	// The server would fix its limit once, from the free space at start;
	// a limit spx sets can be raised while it runs (RaiseStoreLimit).
	settable := false
	if free, _, err := disk(o.StoreDir); err == nil {
		opts.JetStreamMaxStore = max(StoreLimitFor(DirBytes(jsDir), free), 64<<10) // 0 would turn file storage off
		settable = true
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
		o.Logger.Info("embedded NATS started", "url", clientURL(srv), "monitor", monitorURL(srv), "store_dir", o.StoreDir, "auth", o.Auth.String(),
			"store_limit", opts.JetStreamMaxStore)
	}
	s := &Server{srv: srv, storeDir: jsDir, disk: disk}
	if settable {
		s.opts = opts
		// The staging bucket's limit, set by the StoreWatch of an earlier
		// run, is reserved out of the store's. Had the disk less room
		// now, the store's limit would be below the reservation and
		// JetStream would refuse to create or change any stream (even
		// lowering that limit): the topology could not be ensured. The
		// limit then starts at the reservation, and the watch lowers the
		// bucket's to the room there is.
		if info, err := srv.Jsz(nil); err == nil && info.ReservedStore > 0 {
			if need := int64(info.ReservedStore) + LimitReserve(int64(info.ReservedStore)); need > opts.JetStreamMaxStore {
				if _, err := s.RaiseStoreLimit(need); err != nil {
					srv.Shutdown()
					return nil, fmt.Errorf("starting the embedded NATS server: %w", err)
				}
				if o.Logger != nil {
					o.Logger.Info("NATS store limit raised to what its streams reserve; the staging bucket's limit follows the disk again shortly",
						"limit", need, "was", opts.JetStreamMaxStore)
				}
			}
		}
	}
	return s, nil
}

// StoreSpace is the embedded server's JetStream file storage.
type StoreSpace struct {
	Used  int64 // bytes stored
	Limit int64 // max_storage
	// DiskFree and DiskTotal are the file system under the store (0 and
	// DiskErr set when it cannot be measured).
	DiskFree, DiskTotal int64
	DiskErr             error
}

// StoreSpace reports the file storage in use, its limit and the disk.
func (s *Server) StoreSpace() (StoreSpace, error) {
	info, err := s.srv.Jsz(nil)
	if err != nil {
		return StoreSpace{}, fmt.Errorf("reading the JetStream usage: %w", err)
	}
	sp := StoreSpace{Used: int64(info.Store), Limit: info.Config.MaxStore}
	sp.DiskFree, sp.DiskTotal, sp.DiskErr = s.disk(s.storeDir)
	return sp, nil
}

// errLimitFixed is a store limit spx did not set (the disk could not be
// measured at start): the server's own, which cannot be changed live.
var errLimitFixed = errors.New("the store's limit was fixed by the server at start")

// RaiseStoreLimit raises the running server's JetStream file store limit
// (max_storage) to n through a configuration reload, if n is more than the
// current limit: JetStream lets a running server's limit grow, not shrink.
func (s *Server) RaiseStoreLimit(n int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts == nil {
		return false, errLimitFixed
	}
	if n <= s.opts.JetStreamMaxStore {
		return false, nil
	}
	next := s.opts.Clone()
	next.JetStreamMaxStore = n
	if err := s.srv.ReloadOptions(next); err != nil {
		return false, fmt.Errorf("raising the NATS store limit to %d bytes: %w", n, err)
	}
	s.opts = next
	return true, nil
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
