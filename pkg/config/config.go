// Package config resolves spx's configuration: flag > environment > stored
// value (bbolt) > default (DESIGN.md §4), and validates it. It must not
// start anything: it only reads and checks.
package config

import (
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Config is the resolved configuration every command and role works from.
type Config struct {
	ThetaBaseURL    string        // thetadata.base_url ("" = by generation: v3 :25503, v2 :25510)
	ThetaAPI        string        // thetadata.api: auto | v3 | v2
	ThetaFormat     string        // thetadata.format: v3 csv | ndjson | json
	Concurrency     int           // thetadata.concurrency (1..128)
	Timeout         time.Duration // thetadata.timeout (overall per request)
	ChainRequests   bool          // thetadata.chain_requests: expiration=* fetches where the endpoint takes it
	StartDate       spx.Date      // processing.start_date (zero = unset)
	Datasets        []spx.Dataset // processing.datasets
	Roots           []string      // processing.roots
	Interval        time.Duration // processing.interval
	Follow          bool          // follow.enabled (spx run, spx coordinator)
	FollowFrom      spx.Date      // follow.from: first session followed on a new database (zero: the next)
	FollowDelay     time.Duration // follow.delay after a session's close
	FollowRecheck   time.Duration // follow.recheck of failed days
	OutputDir       string        // processing.output_dir
	TempDir         string        // processing.temp_dir
	DBPath          string        // database.path
	NATSURL         string        // nats.url ("" = embedded)
	NATSListen      string        // nats.listen
	NATSMonitor     string        // nats.monitor
	NATSStoreDir    string        // nats.store_dir
	NATSCredentials string        // nats.credentials (never logged)

	ThetaToken string // thetadata.token: bearer token for spx terminal-proxy (never logged)

	// The web page and /metrics (--http).
	WebHosts    []string // web.hosts: Host names answered besides localhost, IPs and the --http host
	WebUser     string   // web.user: HTTP basic auth user ("" = none; loopback only)
	WebPassword string   // web.password (never logged)

	// NATS security (docs/multi-machine.md). The same keys configure the
	// embedded server (what it accepts) and every role's client side.
	NATSUser             string // nats.user
	NATSPassword         string // nats.password (never logged)
	NATSToken            string // nats.token (never logged)
	NATSNkeySeedFile     string // nats.nkey_seed_file: file holding a user nkey seed (SU…)
	NATSTLSCert          string // nats.tls_cert: PEM certificate (server, or client for mTLS)
	NATSTLSKey           string // nats.tls_key: PEM private key of nats.tls_cert
	NATSTLSCA            string // nats.tls_ca: PEM CA bundle that signed the peer
	NATSTLSVerifyClients bool   // nats.tls_verify_clients: the embedded server demands client certificates

	NATSReplicas        int // nats.replicas: job and event streams (1, or 3 on a cluster)
	NATSStagingReplicas int // nats.staging_replicas: staging object store (0 = like nats.replicas)

	// The archive on S3-compatible object storage, when OutputDir is
	// s3://bucket/prefix (see S3Archive).
	S3Endpoint        string // s3.endpoint ("" = AWS S3)
	S3Region          string // s3.region ("" = AWS_REGION, AWS_DEFAULT_REGION, us-east-1)
	S3PathStyle       string // s3.path_style: auto | true | false
	S3AccessKeyID     string // s3.access_key_id ("" = AWS_ACCESS_KEY_ID, shared credentials file)
	S3SecretAccessKey string // s3.secret_access_key (never logged)
	S3SessionToken    string // s3.session_token (never logged)
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		ThetaAPI:      "auto",
		ThetaFormat:   "csv",
		Concurrency:   4,
		Timeout:       5 * time.Minute,
		ChainRequests: true,
		StartDate:     spx.NewDate(2020, time.January, 1),
		Datasets:      []spx.Dataset{spx.Greeks},
		Roots:         append([]string(nil), spx.DefaultRoots...),
		Interval:      time.Minute,
		Follow:        true,
		FollowDelay:   2 * time.Hour,
		FollowRecheck: time.Hour,
		OutputDir:     "./data/parquet",
		TempDir:       "./data/temp",
		DBPath:        "./data/spx.db",
		NATSListen:    "127.0.0.1:4222",
		NATSMonitor:   "127.0.0.1:8222",
		NATSStoreDir:  "./data/nats",
		NATSReplicas:  1,
		S3PathStyle:   "auto",
	}
}
