package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/spx-archive/spx/pkg/spx"
)

// DefaultPartSize is the size of an upload's parts, and the largest file
// sent with a single PUT. S3 allows at most 10,000 parts (156 GiB at this
// size) and no part but the last below MinPartSize.
const DefaultPartSize = 16 << 20

// MinPartSize is S3's smallest part but the last (AWS and SeaweedFS refuse
// to complete an upload with smaller ones).
const MinPartSize = 5 << 20

// opTimeout bounds one small request (HEAD, LIST, a manifest PUT, an
// abort, a complete), the library's own retries included.
const opTimeout = 2 * time.Minute

// Config says which bucket to use and how to reach it.
type Config struct {
	Bucket string // from s3://bucket/prefix
	Prefix string // "" or ending in "/"
	// Endpoint is http(s)://host[:port] or host[:port] (https); empty is
	// AWS S3, or AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL when set.
	Endpoint string
	// Region; empty is AWS_REGION, AWS_DEFAULT_REGION, else the bucket's
	// own on AWS (looked up) and us-east-1 elsewhere.
	Region string
	// PathStyle is auto (virtual-host on AWS, path style elsewhere), true
	// (endpoint/bucket/key) or false (bucket.endpoint/key).
	PathStyle string
	// Static credentials; when both are empty the AWS environment
	// variables, then the shared credentials and config files (AWS_PROFILE)
	// are used, and on AWS the instance or container role.
	AccessKeyID, SecretAccessKey, SessionToken string
	// TempDir holds the spool files uploads are sent from.
	TempDir string
	// PartSize is the size of an upload's parts, default DefaultPartSize.
	// S3 refuses to complete an upload with parts below MinPartSize; only
	// the fault suite goes below it, for writers it kills mid-upload.
	PartSize int64
	Logger   *slog.Logger
}

// Store is an archive in a bucket. It is safe for concurrent use.
type Store struct {
	core       *minio.Core
	creds      *credentials.Credentials
	credSource string
	bucket     string
	prefix     string
	url        string // s3://bucket/prefix, for messages
	endpoint   string // scheme://host, for messages
	tempDir    string
	partSize   int64
	log        *slog.Logger
}

var _ spx.ArchiveStore = (*Store)(nil)

// Open returns the store cfg describes. It makes no request: Check does.
func Open(cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, spx.Permanent(errors.New("no S3 bucket: set processing.output_dir to s3://bucket/prefix"))
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < 64<<10 {
		return nil, spx.Permanent(fmt.Errorf("S3 part size %d is too small: S3 needs %d bytes", cfg.PartSize, MinPartSize))
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	endpoint := cfg.Endpoint
	for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if endpoint == "" {
			endpoint = os.Getenv(name)
		}
	}
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, spx.Permanent(fmt.Errorf("S3 endpoint %q is not http(s)://host[:port]: fix s3.endpoint", endpoint))
	}
	secure := u.Scheme == "https"
	onAWS := strings.HasSuffix(u.Hostname(), ".amazonaws.com")
	region := cfg.Region
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(name)
		}
	}
	if region == "" && !onAWS {
		region = "us-east-1"
	}
	lookup := minio.BucketLookupAuto
	switch cfg.PathStyle {
	case "true":
		lookup = minio.BucketLookupPath
	case "false":
		lookup = minio.BucketLookupDNS
	case "", "auto":
		if !onAWS {
			lookup = minio.BucketLookupPath
		}
	default:
		return nil, spx.Permanent(fmt.Errorf("s3.path_style %q must be auto, true or false", cfg.PathStyle))
	}
	creds, source, err := credentialChain(cfg, onAWS)
	if err != nil {
		return nil, err
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("building the S3 transport: %w", err)
	}
	tr.ResponseHeaderTimeout = opTimeout
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}).DialContext
	core, err := minio.NewCore(u.Host, &minio.Options{Creds: creds, Secure: secure, Region: region, BucketLookup: lookup, Transport: tr})
	if err != nil {
		return nil, spx.Permanent(fmt.Errorf("opening S3 endpoint %s: %w", u.Host, err))
	}
	s := &Store{core: core, creds: creds, credSource: source, bucket: cfg.Bucket, prefix: cfg.Prefix,
		url: "s3://" + cfg.Bucket + "/" + strings.TrimSuffix(cfg.Prefix, "/"), endpoint: u.Scheme + "://" + u.Host,
		tempDir: cfg.TempDir, partSize: cfg.PartSize}
	s.url = strings.TrimSuffix(s.url, "/")
	s.log = cfg.Logger.With("archive", s.url)
	return s, nil
}

// credentialChain returns the credentials to sign with and where they come
// from (for logs; never the values).
func credentialChain(cfg Config, onAWS bool) (*credentials.Credentials, string, error) {
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
			return nil, "", spx.Permanent(errors.New("set both s3.access_key_id and s3.secret_access_key, or neither (then AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or ~/.aws/credentials are used)"))
		}
		return credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken), "s3.access_key_id", nil
	}
	providers := []credentials.Provider{&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}}
	source := "AWS environment or shared credentials file"
	// Instance and container roles exist only on AWS; elsewhere asking
	// the metadata address would be a request to nobody.
	if onAWS {
		providers = append(providers, &credentials.IAM{Client: &http.Client{Timeout: 10 * time.Second}})
		source += " or instance role"
	}
	return credentials.NewChainCredentials(providers), source, nil
}

// URL is the archive's s3://bucket/prefix.
func (s *Store) URL() string { return s.url }

func (s *Store) key(name string) string {
	return s.prefix + strings.TrimPrefix(path.Clean("/"+name), "/")
}

// Location implements spx.ArchiveStore.
func (s *Store) Location(name string) string { return "s3://" + s.bucket + "/" + s.key(name) }

// Remote implements spx.ArchiveStore: uploads are read back.
func (s *Store) Remote() bool { return true }

// Check makes sure the archive can be used before work is taken: there are
// credentials, the bucket exists and they may list it, and with write they
// may also write and delete under the prefix (a probe object). Errors are
// classified like every other (a refusal is permanent, an unreachable
// endpoint transient).
func (s *Store) Check(ctx context.Context, write bool) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	v, err := s.creds.GetWithContext(&credentials.CredContext{Client: &http.Client{Timeout: 10 * time.Second}})
	if err != nil || v.AccessKeyID == "" {
		return ErrNoCredentials
	}
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.wrap("checking bucket", s.url, err)
	}
	if !ok {
		return s.wrap("checking bucket", s.url, minio.ErrorResponse{Code: "NoSuchBucket", StatusCode: http.StatusNotFound, Message: "The specified bucket does not exist"})
	}
	for o := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		if o.Err != nil {
			return s.wrap("listing", s.url, o.Err)
		}
		break
	}
	if !write {
		return nil
	}
	host, _ := os.Hostname()
	probe := fmt.Sprintf("_spx/write-check-%s-%d", host, os.Getpid())
	if err := s.Put(ctx, probe, []byte("spx write check\n")); err != nil {
		return err
	}
	return s.Remove(ctx, probe)
}

// Describe says where the archive is and where its credentials come from,
// for the start-up log line.
func (s *Store) Describe() []any {
	return []any{"archive", s.url, "endpoint", s.endpoint, "credentials", s.credSource}
}

// Put implements spx.ArchiveStore with one PUT: S3 shows the object only
// once all of it arrived.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_, err := s.core.Client.PutObject(ctx, s.bucket, s.key(name), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentType(name), DisableMultipart: true})
	return s.wrap("writing", s.Location(name), err)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// Remove implements spx.ArchiveStore.
func (s *Store) Remove(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := s.core.Client.RemoveObject(ctx, s.bucket, s.key(name), minio.RemoveObjectOptions{})
	if err = s.wrap("deleting", s.Location(name), err); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Dirs implements spx.ArchiveStore: the common prefixes one level below
// dir.
func (s *Store) Dirs(ctx context.Context, dir string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	pre := s.key(dir)
	if pre != "" && !strings.HasSuffix(pre, "/") {
		pre += "/"
	}
	var out []string
	for o := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: pre}) {
		if o.Err != nil {
			return nil, s.wrap("listing", "s3://"+s.bucket+"/"+pre, o.Err)
		}
		if d, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, pre), "/"); ok && d != "" {
			out = append(out, d)
		}
	}
	return out, nil
}

// Open implements spx.ArchiveStore. Reads are ranged GETs (the Parquet
// footer is read from the end); all of them share one deadline, two
// minutes plus a second per MiB.
func (s *Store) Open(ctx context.Context, name string) (spx.ArchiveFile, error) {
	loc := s.Location(name)
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	info, err := s.core.Client.StatObject(sctx, s.bucket, s.key(name), minio.StatObjectOptions{})
	cancel()
	if err != nil {
		return nil, s.wrap("opening", loc, err)
	}
	rctx, rcancel := context.WithTimeout(ctx, opTimeout+time.Duration(info.Size>>20)*time.Second)
	// Reads after the first must see the same object: a file rewritten
	// meanwhile fails them instead of mixing two versions.
	opts := minio.GetObjectOptions{}
	if err := opts.SetMatchETag(info.ETag); err != nil {
		rcancel()
		return nil, s.wrap("opening", loc, err)
	}
	obj, err := s.core.Client.GetObject(rctx, s.bucket, s.key(name), opts)
	if err != nil {
		rcancel()
		return nil, s.wrap("opening", loc, err)
	}
	return &object{obj: obj, size: info.Size, cancel: rcancel, s: s, loc: loc}, nil
}

type object struct {
	obj    *minio.Object
	size   int64
	cancel context.CancelFunc
	s      *Store
	loc    string
}

func (o *object) Size() int64 { return o.size }

func (o *object) Read(p []byte) (int, error) {
	n, err := o.obj.Read(p)
	if err != nil && err != io.EOF {
		err = o.s.wrap("reading", o.loc, err)
	}
	return n, err
}

func (o *object) ReadAt(p []byte, off int64) (int, error) {
	n, err := o.obj.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = o.s.wrap("reading", o.loc, err)
	}
	return n, err
}

func (o *object) Seek(off int64, whence int) (int64, error) { return o.obj.Seek(off, whence) }

func (o *object) Close() error {
	defer o.cancel()
	return o.obj.Close()
}
