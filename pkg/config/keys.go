package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// Key describes one configuration key (DESIGN.md §4).
type Key struct {
	Name        string
	Default     string // as a string, the form `config set` takes
	Description string
	// Validate checks a value; the error says what is wrong and what
	// would be right, without repeating the key.
	Validate func(string) error
	// set stores a valid value into a Config.
	set func(*Config, string)
	// get formats the key's value in a Config.
	get func(Config) string
	// NotStored keys cannot be kept in the database (database.path:
	// the database cannot say where it is itself).
	NotStored bool
}

// Secret reports whether the key's value must never be shown or logged.
func (k Key) Secret() bool { return IsSecret(k.Name) }

// IsSecret reports whether values of key must be redacted: nats.credentials
// and any key naming a password, token or credentials.
func IsSecret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "token") || strings.Contains(k, "credentials") || strings.Contains(k, "secret")
}

// Redacted is what a secret value is shown as.
const Redacted = "****"

// Intervals are the v3 interval names spx accepts for processing.interval
// (tick is not an interval: spx archives bars and snapshots).
var Intervals = []string{"10ms", "100ms", "500ms", "1s", "5s", "10s", "15s", "30s", "1m", "5m", "10m", "15m", "30m", "1h"}

// Keys lists every configuration key, in the order `config get` shows them.
var Keys = []Key{
	{
		Name: "thetadata.base_url", Default: "",
		Description: "Theta Terminal base URL; empty: http://127.0.0.1:25503 (v3) or http://127.0.0.1:25510 (v2)",
		Validate:    validateHTTPURL,
		set:         func(c *Config, v string) { c.ThetaBaseURL = strings.TrimRight(v, "/") },
		get:         func(c Config) string { return c.ThetaBaseURL },
	},
	{
		Name: "thetadata.api", Default: "auto",
		Description: "terminal generation: auto (probe v3, then v2), v3 or v2",
		Validate:    oneOf("auto", "v3", "v2"),
		set:         func(c *Config, v string) { c.ThetaAPI = v },
		get:         func(c Config) string { return c.ThetaAPI },
	},
	{
		Name: "thetadata.format", Default: "csv",
		Description: "v3 answer format spx asks for: csv (fastest to decode), ndjson or json",
		Validate:    oneOf("csv", "ndjson", "json"),
		set:         func(c *Config, v string) { c.ThetaFormat = v },
		get:         func(c Config) string { return c.ThetaFormat },
	},
	{
		Name: "thetadata.concurrency", Default: "4",
		Description: "requests in flight at the terminal, cluster-wide (FREE 1, VALUE 2, STANDARD 4, PRO 8)",
		Validate:    validateConcurrency,
		set:         func(c *Config, v string) { c.Concurrency, _ = strconv.Atoi(v) },
		get:         func(c Config) string { return strconv.Itoa(c.Concurrency) },
	},
	{
		Name: "thetadata.chain_requests", Default: "true",
		Description: "quote, eod and open_interest: one expiration=* request per day and root instead of one per expiration, where the day's chain is at most 1 million rows (faster; false if a terminal rejects it)",
		Validate:    validateBool,
		set:         func(c *Config, v string) { c.ChainRequests, _ = strconv.ParseBool(v) },
		get:         func(c Config) string { return strconv.FormatBool(c.ChainRequests) },
	},
	{
		Name: "thetadata.timeout", Default: "5m",
		Description: "overall time limit of one terminal request (Go duration, e.g. 5m)",
		Validate:    validateDuration,
		set:         func(c *Config, v string) { c.Timeout, _ = time.ParseDuration(v) },
		get:         func(c Config) string { return formatDuration(c.Timeout) },
	},
	{
		Name: "thetadata.token", Default: "",
		Description: "bearer token of spx terminal-proxy (remote fetchers); also SPX_PROXY_TOKEN (never shown or logged)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.ThetaToken = v },
		get:         func(c Config) string { return c.ThetaToken },
	},
	{
		Name: "processing.start_date", Default: "2020-01-01",
		Description: "first trade date of the archive (YYYY-MM-DD); gap analysis starts here",
		Validate:    validateDate,
		set:         func(c *Config, v string) { c.StartDate, _ = spx.ParseDate(v) },
		get:         func(c Config) string { return dateOrEmpty(c.StartDate) },
	},
	{
		Name: "processing.datasets", Default: "greeks",
		Description: "datasets to archive, comma-separated: greeks, quote, ohlc, eod, open_interest",
		Validate:    validateDatasets,
		set: func(c *Config, v string) {
			c.Datasets = nil
			for _, s := range splitList(v) {
				c.Datasets = append(c.Datasets, spx.Dataset(s))
			}
		},
		get: func(c Config) string {
			ss := make([]string, len(c.Datasets))
			for i, d := range c.Datasets {
				ss[i] = string(d)
			}
			return strings.Join(ss, ",")
		},
	},
	{
		Name: "processing.roots", Default: "SPXW,SPX",
		Description: "option roots to archive, comma-separated upper-case symbols",
		Validate:    validateRoots,
		set:         func(c *Config, v string) { c.Roots = splitList(v) },
		get:         func(c Config) string { return strings.Join(c.Roots, ",") },
	},
	{
		Name: "processing.interval", Default: "1m",
		Description: "bar interval of intraday datasets: " + strings.Join(Intervals, ", "),
		Validate:    validateInterval,
		set:         func(c *Config, v string) { c.Interval, _ = time.ParseDuration(v) },
		get:         func(c Config) string { return formatDuration(c.Interval) },
	},
	{
		Name: "follow.enabled", Default: "true",
		Description: "spx run and spx coordinator enqueue each trading day by themselves once its data is final, and re-check failed days (also --follow)",
		Validate:    validateBool,
		set:         func(c *Config, v string) { c.Follow, _ = strconv.ParseBool(v) },
		get:         func(c Config) string { return strconv.FormatBool(c.Follow) },
	},
	{
		Name: "follow.from", Default: "",
		Description: "the first session to follow when following starts on a database that has not followed before (YYYY-MM-DD); empty: the next session to close",
		Validate: func(v string) error {
			if v == "" {
				return nil
			}
			return validateDate(v)
		},
		set: func(c *Config, v string) { c.FollowFrom, _ = spx.ParseDate(v) },
		get: func(c Config) string { return dateOrEmpty(c.FollowFrom) },
	},
	{
		Name: "follow.delay", Default: "2h",
		Description: "how long after a session's close (16:00, 13:00 on early closes, New York) its data counts as final and the day is enqueued",
		Validate:    validateNonNegativeDuration,
		set:         func(c *Config, v string) { c.FollowDelay, _ = time.ParseDuration(v) },
		get:         func(c Config) string { return formatDuration(c.FollowDelay) },
	},
	{
		Name: "follow.recheck", Default: "1h",
		Description: "how often failed days are re-checked and their transient failures queued again (at most 5 times a day)",
		Validate:    validateDuration,
		set:         func(c *Config, v string) { c.FollowRecheck, _ = time.ParseDuration(v) },
		get:         func(c Config) string { return formatDuration(c.FollowRecheck) },
	},
	{
		Name: "web.hosts", Default: "",
		Description: "host names the web page and /metrics answer to (the Host header), comma-separated, besides localhost, IP addresses and the --http host; others get 421 (DNS rebinding)",
		Validate:    validateHostNames,
		set:         func(c *Config, v string) { c.WebHosts = splitList(v) },
		get:         func(c Config) string { return strings.Join(c.WebHosts, ",") },
	},
	{
		Name: "web.user", Default: "",
		Description: "user name the web page and /metrics require (HTTP basic auth, with web.password); needed to serve --http on an address other machines reach",
		Validate:    validateWebUser,
		set:         func(c *Config, v string) { c.WebUser = v },
		get:         func(c Config) string { return c.WebUser },
	},
	{
		Name: "web.password", Default: "",
		Description: "password of web.user (never shown or logged)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.WebPassword = v },
		get:         func(c Config) string { return c.WebPassword },
	},
	{
		Name: "processing.output_dir", Default: "./data/parquet",
		Description: "the Parquet archive: a directory, or s3://bucket/prefix on S3-compatible object storage (see s3.*)",
		Validate:    validateOutputDir,
		set:         func(c *Config, v string) { c.OutputDir = v },
		get:         func(c Config) string { return c.OutputDir },
	},
	{
		Name: "processing.temp_dir", Default: "./data/temp",
		Description: "directory for temporary files",
		Validate:    nonEmpty("a directory path"),
		set:         func(c *Config, v string) { c.TempDir = v },
		get:         func(c Config) string { return c.TempDir },
	},
	{
		Name: "s3.endpoint", Default: "",
		Description: "S3 endpoint of an s3:// processing.output_dir: empty for AWS S3 (or AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL), else e.g. http://127.0.0.1:8333 or https://ACCOUNT.r2.cloudflarestorage.com",
		Validate:    validateS3Endpoint,
		set:         func(c *Config, v string) { c.S3Endpoint = strings.TrimRight(v, "/") },
		get:         func(c Config) string { return c.S3Endpoint },
	},
	{
		Name: "s3.region", Default: "",
		Description: "S3 region; empty: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.S3Region = v },
		get:         func(c Config) string { return c.S3Region },
	},
	{
		Name: "s3.path_style", Default: "auto",
		Description: "address buckets as endpoint/bucket (true) or bucket.endpoint (false); auto: virtual-host on AWS, path style elsewhere",
		Validate:    oneOf("auto", "true", "false"),
		set:         func(c *Config, v string) { c.S3PathStyle = v },
		get:         func(c Config) string { return c.S3PathStyle },
	},
	{
		Name: "s3.access_key_id", Default: "",
		Description: "S3 access key; empty: AWS_ACCESS_KEY_ID, then the shared credentials file (~/.aws/credentials, AWS_PROFILE)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.S3AccessKeyID = v },
		get:         func(c Config) string { return c.S3AccessKeyID },
	},
	{
		Name: "s3.secret_access_key", Default: "",
		Description: "S3 secret key of s3.access_key_id (never shown or logged)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.S3SecretAccessKey = v },
		get:         func(c Config) string { return c.S3SecretAccessKey },
	},
	{
		Name: "s3.session_token", Default: "",
		Description: "S3 session token of temporary credentials, with s3.access_key_id (never shown or logged)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.S3SessionToken = v },
		get:         func(c Config) string { return c.S3SessionToken },
	},
	{
		Name: "database.path", Default: "./data/spx.db",
		Description: "status database file (bbolt); set by --db or environment only",
		Validate:    nonEmpty("a file path"),
		set:         func(c *Config, v string) { c.DBPath = v },
		get:         func(c Config) string { return c.DBPath },
		NotStored:   true,
	},
	{
		Name: "nats.url", Default: "",
		Description: "NATS server URL(s), comma-separated; empty runs an embedded server",
		Validate:    validateNATSURL,
		set:         func(c *Config, v string) { c.NATSURL = v },
		get:         func(c Config) string { return c.NATSURL },
	},
	{
		Name: "nats.listen", Default: "127.0.0.1:4222",
		Description: "client address of the embedded NATS server (host:port)",
		Validate:    validateHostPort,
		set:         func(c *Config, v string) { c.NATSListen = v },
		get:         func(c Config) string { return c.NATSListen },
	},
	{
		Name: "nats.monitor", Default: "127.0.0.1:8222",
		Description: "monitoring address of the embedded NATS server (host:port), loopback only: nats-server does not authenticate it",
		Validate:    validateHostPort,
		set:         func(c *Config, v string) { c.NATSMonitor = v },
		get:         func(c Config) string { return c.NATSMonitor },
	},
	{
		Name: "nats.store_dir", Default: "./data/nats",
		Description: "JetStream storage directory of the embedded NATS server",
		Validate:    nonEmpty("a directory path"),
		set:         func(c *Config, v string) { c.NATSStoreDir = v },
		get:         func(c Config) string { return c.NATSStoreDir },
	},
	{
		Name: "nats.credentials", Default: "",
		Description: "NATS credentials file (never shown or logged)",
		Validate:    func(string) error { return nil },
		set:         func(c *Config, v string) { c.NATSCredentials = v },
		get:         func(c Config) string { return c.NATSCredentials },
	},
	{
		Name: "nats.user", Default: "",
		Description: "NATS user name (with nats.password); the embedded server requires it when set",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.NATSUser = v },
		get:         func(c Config) string { return c.NATSUser },
	},
	{
		Name: "nats.password", Default: "",
		Description: "NATS password of nats.user (never shown or logged)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.NATSPassword = v },
		get:         func(c Config) string { return c.NATSPassword },
	},
	{
		Name: "nats.token", Default: "",
		Description: "NATS authentication token, instead of user and password (never shown or logged)",
		Validate:    noSpace,
		set:         func(c *Config, v string) { c.NATSToken = v },
		get:         func(c Config) string { return c.NATSToken },
	},
	{
		Name: "nats.nkey_seed_file", Default: "",
		Description: "file holding a NATS user nkey seed (SU...); the embedded server accepts that nkey",
		Validate:    func(string) error { return nil },
		set:         func(c *Config, v string) { c.NATSNkeySeedFile = v },
		get:         func(c Config) string { return c.NATSNkeySeedFile },
	},
	{
		Name: "nats.tls_cert", Default: "",
		Description: "PEM certificate: the embedded server's, or the client's for mutual TLS",
		Validate:    func(string) error { return nil },
		set:         func(c *Config, v string) { c.NATSTLSCert = v },
		get:         func(c Config) string { return c.NATSTLSCert },
	},
	{
		Name: "nats.tls_key", Default: "",
		Description: "PEM private key of nats.tls_cert",
		Validate:    func(string) error { return nil },
		set:         func(c *Config, v string) { c.NATSTLSKey = v },
		get:         func(c Config) string { return c.NATSTLSKey },
	},
	{
		Name: "nats.tls_ca", Default: "",
		Description: "PEM CA bundle that signed the other side's certificate",
		Validate:    func(string) error { return nil },
		set:         func(c *Config, v string) { c.NATSTLSCA = v },
		get:         func(c Config) string { return c.NATSTLSCA },
	},
	{
		Name: "nats.tls_verify_clients", Default: "false",
		Description: "the embedded server demands client certificates signed by nats.tls_ca (mutual TLS)",
		Validate:    validateBool,
		set:         func(c *Config, v string) { c.NATSTLSVerifyClients, _ = strconv.ParseBool(v) },
		get:         func(c Config) string { return strconv.FormatBool(c.NATSTLSVerifyClients) },
	},
	{
		Name: "nats.replicas", Default: "1",
		Description: "replicas of the job and event streams: 1, or 3 on a three-node NATS cluster",
		Validate:    validateReplicas,
		set:         func(c *Config, v string) { c.NATSReplicas, _ = strconv.Atoi(v) },
		get:         func(c Config) string { return strconv.Itoa(c.NATSReplicas) },
	},
	{
		Name: "nats.staging_replicas", Default: "0",
		Description: "replicas of the staging object store; 0: like nats.replicas (see docs/multi-machine.md)",
		Validate:    validateStagingReplicas,
		set:         func(c *Config, v string) { c.NATSStagingReplicas, _ = strconv.Atoi(v) },
		get:         func(c Config) string { return strconv.Itoa(c.NATSStagingReplicas) },
	},
}

func noSpace(v string) error {
	if strings.ContainsAny(v, " \t\r\n") {
		return errors.New("must not contain spaces or line breaks")
	}
	return nil
}

func validateBool(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return errors.New("must be true or false")
	}
	return nil
}

// validateHostNames checks web.hosts: names as a browser puts them in the
// Host header, without scheme, port or wildcard.
func validateHostNames(v string) error {
	for _, h := range splitList(v) {
		if strings.ContainsAny(h, " \t/:*@[]") || strings.HasPrefix(h, ".") {
			return fmt.Errorf("%q is not a host name: give names only, comma-separated, e.g. spx.example.lan,archive-host (no scheme, port or wildcard)", h)
		}
	}
	return nil
}

func validateWebUser(v string) error {
	if strings.Contains(v, ":") {
		return errors.New("must not contain a colon (HTTP basic auth separates user and password with one)")
	}
	return noSpace(v)
}

func validateReplicas(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 5 {
		return errors.New("must be a whole number from 1 to 5 (3 on a three-node cluster)")
	}
	return nil
}

func validateStagingReplicas(v string) error {
	if v == "0" {
		return nil
	}
	return validateReplicas(v)
}

// Lookup returns the key named name.
func Lookup(name string) (Key, bool) {
	i := slices.IndexFunc(Keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return Key{}, false
	}
	return Keys[i], true
}

// UnknownKeyError is returned for a key that is not in Keys.
type UnknownKeyError struct {
	Key     string
	Nearest string // "" when nothing is close
}

func (e *UnknownKeyError) Error() string {
	if e.Nearest != "" {
		return fmt.Sprintf("unknown config key %q; did you mean %q?", e.Key, e.Nearest)
	}
	return fmt.Sprintf("unknown config key %q; 'spx config get' lists the keys", e.Key)
}

// CheckKey returns an *UnknownKeyError suggesting the nearest key by edit
// distance when name is not a configuration key.
func CheckKey(name string) error {
	if _, ok := Lookup(name); ok {
		return nil
	}
	best, bestD := "", 1<<30
	for _, k := range Keys {
		if d := editDistance(strings.ToLower(name), k.Name); d < bestD {
			best, bestD = k.Name, d
		}
	}
	// Suggest only what is plausibly a typo of the key.
	if bestD > max(3, len(best)/3) {
		best = ""
	}
	return &UnknownKeyError{Key: name, Nearest: best}
}

// ValidateValue checks value for key. Errors name the key and the value and
// say what would be right.
func ValidateValue(key, value string) error {
	k, ok := Lookup(key)
	if !ok {
		return CheckKey(key)
	}
	if err := k.Validate(value); err != nil {
		return fmt.Errorf("%s %q: %w", key, displayValue(key, value), err)
	}
	return nil
}

// Get returns the value of key in c as a string ("" for unknown keys). It
// does not redact; use Display for anything a person sees.
func (c Config) Get(key string) string {
	k, ok := Lookup(key)
	if !ok {
		return ""
	}
	return k.get(c)
}

// Display returns the value of key in c, with secrets shown as Redacted.
func (c Config) Display(key string) string { return displayValue(key, c.Get(key)) }

func displayValue(key, value string) string {
	if value != "" && IsSecret(key) {
		return Redacted
	}
	return value
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func splitList(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func formatDuration(d time.Duration) string {
	s := d.String()
	// time.Duration prints 1m as "1m0s"; show the form people type.
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(vals, v) {
			return nil
		}
		return fmt.Errorf("must be one of %s", strings.Join(vals, ", "))
	}
}

func nonEmpty(what string) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("must not be empty: give %s", what)
		}
		return nil
	}
}

func validateConcurrency(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return errors.New("must be a whole number from 1 to 128 (your subscription's limit: FREE 1, VALUE 2, STANDARD 4, PRO 8)")
	}
	if n < 1 || n > 128 {
		return fmt.Errorf("%d is out of range: must be from 1 to 128 (the terminal queues at most 128 requests)", n)
	}
	return nil
}

func validateDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New("must be a positive duration such as 30s, 5m or 1h")
	}
	return nil
}

func validateNonNegativeDuration(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("must be a duration such as 0s, 30m or 2h")
	}
	return nil
}

func validateInterval(v string) error {
	if slices.Contains(Intervals, v) {
		return nil
	}
	return fmt.Errorf("must be one of %s", strings.Join(Intervals, ", "))
}

func validateDatasets(v string) error {
	list := splitList(v)
	if len(list) == 0 {
		return errors.New("must name at least one dataset: greeks, quote, ohlc, eod, open_interest")
	}
	seen := map[string]bool{}
	for _, s := range list {
		if _, err := spx.ParseDataset(s); err != nil {
			return err
		}
		if seen[s] {
			return fmt.Errorf("dataset %s is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

func validateRoots(v string) error {
	list := splitList(v)
	if len(list) == 0 {
		return errors.New("must name at least one root, e.g. SPXW,SPX")
	}
	seen := map[string]bool{}
	for _, s := range list {
		for _, r := range s {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return fmt.Errorf("root %q must be upper-case letters and digits, e.g. SPXW", s)
			}
		}
		if seen[s] {
			return fmt.Errorf("root %s is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

func validateHTTPURL(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an http(s) URL such as http://127.0.0.1:25503")
	}
	return nil
}

func validateNATSURL(v string) error {
	for _, s := range splitList(v) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return fmt.Errorf("%q must be a NATS URL such as nats://127.0.0.1:4222", s)
		}
	}
	return nil
}

func validateHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		return errors.New("must be host:port such as 127.0.0.1:4222")
	}
	return nil
}

// validateDate accepts what spx.ParseDate reads.
func validateDate(v string) error { _, err := spx.ParseDate(v); return err }

// dateOrEmpty shows a date key: empty for the zero date (not set).
func dateOrEmpty(d spx.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}
