// Package s3test starts a real S3 server for tests: SeaweedFS's `weed
// server -s3` (Apache-2.0), bound to 127.0.0.1 on free ports, with its data
// in a temporary directory and S3 credentials from an identities file, so
// a wrong key is refused as on AWS. It must not be imported by non-test
// code.
//
// The weed binary is $SPX_WEED, else the one scripts/weed.sh builds into
// its cache, else `weed` on PATH. Without one a test is skipped, unless
// CI or SPX_REQUIRE_S3 is set (make test and .ci/run set it): then it fails.
package s3test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/spx-archive/spx/internal/syncbuf"
)

// Credentials of the identities the server accepts.
const (
	AccessKey = "spxtestaccesskey"
	SecretKey = "spxtestsecretkey0123456789"
	// ReadOnlyAccessKey may list and read but not write.
	ReadOnlyAccessKey = "spxtestreadonly"
	ReadOnlySecretKey = "spxtestreadonlysecret0123"
)

// Server is a running weed with S3.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Dir      string // its data

	cmd  *exec.Cmd
	log  *syncbuf.Buffer
	done chan struct{}
	// sockets are the unix sockets weed mini binds under /tmp whatever
	// TMPDIR says (named after its gRPC ports); Stop removes them.
	sockets []string
}

// Binary returns the weed binary to run, or an error saying how to get one.
func Binary() (string, error) {
	if p := os.Getenv("SPX_WEED"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("SPX_WEED=%s is not a file", p)
		}
		return p, nil
	}
	if p, err := cachedBinary(); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p, nil
	}
	return "", errors.New("no SeaweedFS weed binary: run scripts/weed.sh (make test does), or set SPX_WEED")
}

// cachedBinary is where scripts/weed.sh keeps the pinned version.
func cachedBinary() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("no source path")
	}
	root := filepath.Join(filepath.Dir(self), "..", "..", "..")
	v, err := os.ReadFile(filepath.Join(root, "scripts", "weed.version"))
	if err != nil {
		return "", err
	}
	cache := os.Getenv("SPX_CACHE_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "spx")
	}
	p := filepath.Join(cache, "weed-"+strings.TrimSpace(string(v)))
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// Required reports whether S3 tests must run (CI, make test).
func Required() bool { return os.Getenv("CI") != "" || os.Getenv("SPX_REQUIRE_S3") != "" }

// Start runs a server for the test; it stops at cleanup. Without a weed
// binary the test is skipped (failed when Required).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if Required() {
			t.Fatalf("S3 tests are required here (CI or SPX_REQUIRE_S3): %v", err)
		}
		t.Skipf("skipping the S3 test: %v", err)
	}
	s, err := start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("--- weed log:\n%s", tail(s.log.String()))
		}
	})
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Shared returns the test binary's one server, started on first use (a
// start takes about five seconds); give each test its own bucket. A
// package using it calls StopShared from TestMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if Required() {
			t.Fatalf("S3 tests are required here (CI or SPX_REQUIRE_S3): %v", err)
		}
		t.Skipf("skipping the S3 test: %v", err)
	}
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "spx-s3test-"); shared.err == nil {
			shared.srv, shared.err = start(bin, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- weed log:\n%s", tail(shared.srv.log.String()))
		}
	})
	return shared.srv
}

// StopShared stops the shared server, if one was started, and removes its
// data.
func StopShared() {
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

func start(bin, dir string) (*Server, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	identities := map[string]any{"identities": []map[string]any{
		{"name": "spx", "credentials": []map[string]string{{"accessKey": AccessKey, "secretKey": SecretKey}},
			"actions": []string{"Admin", "Read", "Write", "List", "Tagging"}},
		{"name": "reader", "credentials": []map[string]string{{"accessKey": ReadOnlyAccessKey, "secretKey": ReadOnlySecretKey}},
			"actions": []string{"Read", "List"}},
	}}
	cfgPath := filepath.Join(dir, "s3.json")
	b, _ := json.Marshal(identities)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	// weed reads master.toml from its working directory: one volume per
	// new bucket instead of seven, and no wait before the first one (meant
	// for a rebuilt master's volume servers, of which a test has none).
	master := "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 1\ncopy_3 = 1\ncopy_other = 1\nallocation_deferral = \"0s\"\n"
	if err := os.WriteFile(filepath.Join(dir, "master.toml"), []byte(master), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(11)
	if err != nil {
		return nil, err
	}
	p := func(i int) string { return fmt.Sprint(ports[i]) }
	// weed mini is the single-process dev cluster: its filer does not wait
	// out a membership check meant for restarted clusters (10 s), so it
	// serves writes within seconds. Everything else it would start is off
	// or on a port of ours, all on loopback.
	logDir := filepath.Join(dir, "log")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, err
	}
	// Its glog files go to the test's directory, not to /tmp.
	args := []string{"-logdir=" + logDir, "mini",
		"-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p(0), "-master.port.grpc=" + p(1), "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		"-volume.port=" + p(2), "-volume.port.grpc=" + p(3), "-volume.max=0", "-volume.preStopSeconds=0",
		"-filer.port=" + p(4), "-filer.port.grpc=" + p(5), "-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3.port=" + p(6), "-s3.port.grpc=" + p(7), "-s3.config=" + cfgPath, "-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-admin.ui=false", "-admin.port=" + p(8), "-admin.port.grpc=" + p(9), "-admin.port.legacy=0",
		"-webdav=false", "-debug.port=" + p(10),
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	log := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	// The server dies with the test binary, however that ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + p(6), Dir: data, cmd: cmd, log: log, done: make(chan struct{})}
	for _, g := range []struct{ role, port string }{{"master", p(1)}, {"volume", p(3)}, {"filer", p(5)}, {"s3", p(7)}, {"admin", p(9)}} {
		s.sockets = append(s.sockets, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%s.sock", g.role, g.port))
	}
	go func() { _ = cmd.Wait(); close(s.done) }()
	// Ready when a signed request is answered by a filer-backed S3 API.
	cl := s.admin()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := cl.ListBuckets(ctx)
		cancel()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("weed exited at start: %s", tail(log.String()))
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("weed's S3 did not answer within 90s (%v): %s", err, tail(log.String()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit (its data is a test's,
// thrown away; a graceful stop takes seconds).
func (s *Server) Stop() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	for _, f := range s.sockets {
		_ = os.Remove(f)
	}
}

// HostPort is the S3 endpoint without its scheme (DuckDB's s3_endpoint).
func (s *Server) HostPort() string { return strings.TrimPrefix(s.Endpoint, "http://") }

func (s *Server) admin() *minio.Client {
	cl, err := minio.New(s.HostPort(), &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		panic(err) // only a malformed endpoint fails, and ours is not
	}
	return cl
}

// Client returns a client with full rights, for the test's own checks.
func (s *Server) Client() *minio.Client { return s.admin() }

// MakeBucket creates a bucket.
func (s *Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin().MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}

// Objects lists every object under prefix (recursively) with its size.
func (s *Server) Objects(t testing.TB, bucket, prefix string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]int64{}
	for o := range s.admin().ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing %s/%s: %v", bucket, prefix, o.Err)
		}
		out[o.Key] = o.Size
	}
	return out
}

// IncompleteUploads lists the keys of incomplete multipart uploads under
// prefix.
func (s *Server) IncompleteUploads(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	for u := range s.admin().ListIncompleteUploads(ctx, bucket, prefix, true) {
		if u.Err != nil {
			t.Fatalf("listing uploads under %s/%s: %v", bucket, prefix, u.Err)
		}
		out = append(out, u.Key)
	}
	return out
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func tail(s string) string {
	if len(s) > 6000 {
		return "…" + s[len(s)-6000:]
	}
	return s
}
