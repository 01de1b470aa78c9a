package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/spx-archive/spx/pkg/s3store"
	"github.com/spx-archive/spx/pkg/s3store/s3test"
	"github.com/spx-archive/spx/pkg/spx"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

func open(t *testing.T, srv *s3test.Server, bucket, prefix string, mod func(*s3store.Config)) *s3store.Store {
	t.Helper()
	cfg := s3store.Config{Bucket: bucket, Prefix: prefix, Endpoint: srv.Endpoint, AccessKeyID: s3test.AccessKey,
		SecretAccessKey: s3test.SecretKey, TempDir: t.TempDir(), PartSize: s3store.MinPartSize}
	if mod != nil {
		mod(&cfg)
	}
	st, err := s3store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The whole spx.ArchiveStore contract against a real S3 server: a file is
// invisible until Commit (one PUT for a small one, a multipart upload for
// one larger than a part), reads back byte for byte and at offsets, an
// aborted or rewound write leaves nothing of itself, and no spool file or
// incomplete upload is left behind.
func TestStoreContract(t *testing.T) {
	srv := s3test.Shared(t)
	srv.MakeBucket(t, "contract")
	ctx := context.Background()
	st := open(t, srv, "contract", "team/spx/", nil)
	if err := st.Check(ctx, true); err != nil {
		t.Fatalf("Check: %v", err)
	}
	spool := t.TempDir()
	st = open(t, srv, "contract", "team/spx/", func(c *s3store.Config) { c.TempDir = spool })

	for _, tc := range []struct {
		name string
		size int
	}{
		{"greeks/root=SPXW/date=2024-03-04/exp=2024-03-04.parquet", 300 << 10},                     // single PUT
		{"greeks/root=SPXW/date=2024-03-04/exp=2024-03-05.parquet", 2*s3store.MinPartSize + 12345}, // three parts
	} {
		data := randomBytes(tc.size, uint64(tc.size))
		p, err := st.Create(ctx, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		// Something written, then discarded: the object must not carry it.
		if _, err := p.Write([]byte("garbage that Rewind discards")); err != nil {
			t.Fatal(err)
		}
		if err := p.Rewind(); err != nil {
			t.Fatal(err)
		}
		for chunk := range slices.Chunk(data, 1<<20) {
			if _, err := p.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if objs := srv.Objects(t, "contract", "team/spx/"); len(objs) != 0 && objs["team/spx/"+tc.name] != 0 {
			t.Fatalf("%s visible before Commit: %v", tc.name, objs)
		}
		if err := p.Commit(ctx); err != nil {
			t.Fatalf("Commit %s: %v", tc.name, err)
		}
		p.Abort() // after Commit: nothing
		obj, err := st.Open(ctx, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if obj.Size() != int64(tc.size) {
			t.Errorf("%s: size %d, want %d", tc.name, obj.Size(), tc.size)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes (%v), not what was written", tc.name, len(got), err)
		}
		tailBuf := make([]byte, 8)
		if n, err := obj.ReadAt(tailBuf, int64(tc.size-8)); n != 8 || (err != nil && err != io.EOF) || !bytes.Equal(tailBuf, data[tc.size-8:]) {
			t.Fatalf("%s: ReadAt of the last 8 bytes = %d, %v", tc.name, n, err)
		}
		obj.Close()
	}
	if got := srv.Objects(t, "contract", ""); len(got) != 2 {
		t.Fatalf("objects %v, want the two files only (no probe, no parts)", got)
	}
	if ups := srv.IncompleteUploads(t, "contract", ""); len(ups) != 0 {
		t.Fatalf("incomplete uploads left: %v", ups)
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Fatalf("spool files left: %v", ents)
	}

	// An aborted write leaves nothing at all.
	p, err := st.Create(ctx, "greeks/root=SPX/date=2024-03-04/exp=2024-03-15.parquet")
	if err != nil {
		t.Fatal(err)
	}
	p.Write(randomBytes(1<<20, 3))
	p.Abort()
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Fatalf("spool files left after Abort: %v", ents)
	}

	// Dirs lists one level; Put and Remove; a missing file is fs.ErrNotExist.
	if err := st.Put(ctx, "greeks/root=SPX/date=2024-03-04/_manifest.json", []byte(`{"files":[]}`)); err != nil {
		t.Fatal(err)
	}
	dirs, err := st.Dirs(ctx, "greeks")
	if err != nil || !slices.Equal(dirs, []string{"root=SPX", "root=SPXW"}) {
		t.Fatalf("Dirs(greeks) = %v, %v", dirs, err)
	}
	if dirs, err := st.Dirs(ctx, "quote"); err != nil || len(dirs) != 0 {
		t.Fatalf("Dirs(quote) = %v, %v", dirs, err)
	}
	if err := st.Remove(ctx, "greeks/root=SPX/date=2024-03-04/_manifest.json"); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(ctx, "greeks/root=SPX/date=2024-03-04/_manifest.json"); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
	_, err = st.Open(ctx, "greeks/root=SPX/date=2024-03-04/_manifest.json")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a removed file: %v, want fs.ErrNotExist", err)
	}
	if want := "s3://contract/team/spx/greeks/x.parquet"; st.Location("greeks/x.parquet") != want {
		t.Errorf("Location = %s, want %s", st.Location("greeks/x.parquet"), want)
	}
}

// A writer killed mid-upload leaves an incomplete multipart upload (never
// a visible object). The next write of the same file aborts it; the
// janitor aborts any that are old and removes spool files of dead
// processes.
func TestAbandonedUploadsAreCleanedUp(t *testing.T) {
	srv := s3test.Shared(t)
	srv.MakeBucket(t, "abandoned")
	ctx := context.Background()
	core := minio.Core{Client: srv.Client()}
	abandon := func(key string) {
		id, err := core.NewMultipartUpload(ctx, "abandoned", key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		part := randomBytes(s3store.MinPartSize, 9)
		if _, err := core.PutObjectPart(ctx, "abandoned", key, id, 1, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	name := "greeks/root=SPXW/date=2024-03-04/exp=2024-03-08.parquet"
	abandon("p/" + name)
	abandon("p/greeks/root=SPXW/date=2024-03-05/exp=2024-03-08.parquet")
	if objs := srv.Objects(t, "abandoned", ""); len(objs) != 0 {
		t.Fatalf("an incomplete upload is visible: %v", objs)
	}
	spool := t.TempDir()
	st := open(t, srv, "abandoned", "p", func(c *s3store.Config) { c.TempDir = spool })
	p, err := st.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("small file, one PUT"))
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if ups := srv.IncompleteUploads(t, "abandoned", ""); !slices.Equal(ups, []string{"p/greeks/root=SPXW/date=2024-03-05/exp=2024-03-08.parquet"}) {
		t.Fatalf("after rewriting %s, incomplete uploads %v, want only the other file's", name, ups)
	}

	// A spool file of a process that is gone, one of a live process, one of ours.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{ // name -> should survive
		fmt.Sprintf("spx-upload-%d-123.parquet", dead.Process.Pid): false,
		fmt.Sprintf("spx-upload-%d-456.parquet", os.Getppid()):     true,
		"unrelated.parquet": true,
	}
	for f := range files {
		if err := os.WriteFile(filepath.Join(spool, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if up, sp := st.Sweep(ctx, s3store.StaleUploadAge); up != 0 || sp != 1 {
		t.Fatalf("Sweep(24h) aborted %d uploads and removed %d spool files, want 0 and 1", up, sp)
	}
	for f, keep := range files {
		if _, err := os.Stat(filepath.Join(spool, f)); (err == nil) != keep {
			t.Errorf("spool file %s: exists %v, want %v", f, err == nil, keep)
		}
	}
	if up, _ := st.Sweep(ctx, 0); up != 1 {
		t.Fatalf("Sweep(0) aborted %d uploads, want 1", up)
	}
	if ups := srv.IncompleteUploads(t, "abandoned", ""); len(ups) != 0 {
		t.Fatalf("incomplete uploads left: %v", ups)
	}
}

// Wrong or insufficient credentials, a missing bucket and an endpoint that
// does not answer each get an error that says so and has the right class;
// no secret appears in any of them.
func TestCheckErrors(t *testing.T) {
	srv := s3test.Shared(t)
	srv.MakeBucket(t, "checks")
	ctx := context.Background()
	dead := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "http://" + l.Addr().String() // closed when used: nothing answers
	}()
	for _, tc := range []struct {
		name  string
		mod   func(*s3store.Config)
		write bool
		is    error
		class spx.ErrorClass
		text  string
	}{
		{"wrong secret", func(c *s3store.Config) { c.SecretAccessKey = "not-the-secret-key-1234" }, true, s3store.ErrCredentials, spx.ClassPermanent, "check s3.access_key_id and s3.secret_access_key"},
		{"unknown key", func(c *s3store.Config) { c.AccessKeyID = "nobody" }, false, s3store.ErrCredentials, spx.ClassPermanent, "S3 refused the credentials"},
		{"read-only key writing", func(c *s3store.Config) {
			c.AccessKeyID, c.SecretAccessKey = s3test.ReadOnlyAccessKey, s3test.ReadOnlySecretKey
		}, true, s3store.ErrCredentials, spx.ClassPermanent, "may list, read, write and delete"},
		{"missing bucket", func(c *s3store.Config) { c.Bucket = "no-such-bucket" }, false, s3store.ErrNoBucket, spx.ClassPermanent, "create bucket no-such-bucket"},
		{"endpoint down", func(c *s3store.Config) { c.Endpoint = dead }, false, nil, spx.ClassTransient, "did not answer"},
		{"half the key pair", func(c *s3store.Config) { c.SecretAccessKey = "" }, false, nil, spx.ClassPermanent, "set both s3.access_key_id and s3.secret_access_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s3store.Config{Bucket: "checks", Endpoint: srv.Endpoint, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey, TempDir: t.TempDir()}
			tc.mod(&cfg)
			st, err := s3store.Open(cfg)
			if err == nil {
				err = st.Check(ctx, tc.write)
			}
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Errorf("error %v does not match %v", err, tc.is)
			case spx.ClassOf(err) != tc.class:
				t.Errorf("class %s, want %s (%v)", spx.ClassOf(err), tc.class, err)
			case !strings.Contains(err.Error(), tc.text):
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			for _, secret := range []string{s3test.SecretKey, s3test.ReadOnlySecretKey, "not-the-secret-key-1234"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
	// The read-only key may still verify.
	st := open(t, srv, "checks", "", func(c *s3store.Config) {
		c.AccessKeyID, c.SecretAccessKey = s3test.ReadOnlyAccessKey, s3test.ReadOnlySecretKey
	})
	if err := st.Check(ctx, false); err != nil {
		t.Fatalf("read-only Check: %v", err)
	}
}

// Credentials come from the AWS environment when no keys are configured.
func TestCredentialsFromEnvironment(t *testing.T) {
	srv := s3test.Shared(t)
	srv.MakeBucket(t, "envcreds")
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	st := open(t, srv, "envcreds", "", func(c *s3store.Config) { c.AccessKeyID, c.SecretAccessKey = "", "" })
	if err := st.Check(context.Background(), true); err != nil {
		t.Fatalf("Check with AWS_ACCESS_KEY_ID: %v", err)
	}
	// A shared credentials file with a named profile.
	creds := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n[team]\naws_access_key_id = "+
		s3test.AccessKey+"\naws_secret_access_key = "+s3test.SecretKey+"\n"), 0o600)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_PROFILE", "team")
	st = open(t, srv, "envcreds", "", func(c *s3store.Config) { c.AccessKeyID, c.SecretAccessKey = "", "" })
	if err := st.Check(context.Background(), true); err != nil {
		t.Fatalf("Check with AWS_PROFILE=team: %v", err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	st = open(t, srv, "envcreds", "", func(c *s3store.Config) { c.AccessKeyID, c.SecretAccessKey = "", "" })
	if err := st.Check(context.Background(), false); !errors.Is(err, s3store.ErrNoCredentials) {
		t.Fatalf("Check without any credentials: %v, want ErrNoCredentials", err)
	}
}
