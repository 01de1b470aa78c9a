package queue

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Auth says how NATS clients prove who they are and whether the link is
// encrypted. The same values configure what the embedded server accepts and
// what every role presents as a client (config keys nats.user, nats.password,
// nats.token, nats.nkey_seed_file, nats.credentials, nats.tls_*). Secrets are
// never part of an error or of String.
type Auth struct {
	User, Password string
	Token          string
	// NkeySeedFile holds a user nkey seed (SU…): the client signs with it,
	// the embedded server accepts its public key.
	NkeySeedFile string
	// CredsFile is a decentralised-auth .creds file (JWT + seed) for an
	// external server in operator mode; the embedded server cannot check it.
	CredsFile string
	// TLSCert and TLSKey are the server's certificate, or the client's for
	// mutual TLS; TLSCA is the bundle that signed the other side.
	TLSCert, TLSKey, TLSCA string
	// TLSVerifyClients makes the embedded server demand a client
	// certificate signed by TLSCA (mutual TLS).
	TLSVerifyClients bool
}

// ErrInsecureListen is returned when the embedded server would accept
// unauthenticated clients on a non-loopback address.
var ErrInsecureListen = errors.New("refusing to accept NATS clients without credentials on a non-loopback address")

// ErrOpenMonitor is returned when the embedded server's monitoring port
// would listen on a non-loopback address.
var ErrOpenMonitor = errors.New("refusing to serve NATS monitoring on an address other machines can reach")

// ServerChecksClients reports whether the embedded server would require
// clients to authenticate: user/password, token, an nkey, or a client
// certificate (mutual TLS).
func (a Auth) ServerChecksClients() bool {
	return a.User != "" || a.Token != "" || a.NkeySeedFile != "" || a.TLSVerifyClients && a.TLSCA != ""
}

// TLS reports whether a certificate is configured for the server side.
func (a Auth) TLS() bool { return a.TLSCert != "" && a.TLSKey != "" }

// String names the methods in use, never their values, for logs.
func (a Auth) String() string {
	var m []string
	if a.User != "" {
		m = append(m, "user/password")
	}
	if a.Token != "" {
		m = append(m, "token")
	}
	if a.NkeySeedFile != "" {
		m = append(m, "nkey")
	}
	if a.CredsFile != "" {
		m = append(m, "creds file")
	}
	switch {
	case a.TLSVerifyClients:
		m = append(m, "mutual TLS")
	case a.TLS() || a.TLSCA != "":
		m = append(m, "TLS")
	}
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, ", ")
}

// ClientOptions are the nats.go options that present these credentials.
func (a Auth) ClientOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if a.User != "" || a.Password != "" {
		if a.User == "" {
			return nil, errors.New("nats.password is set without nats.user: set both, or neither")
		}
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.Token != "" {
		opts = append(opts, nats.Token(a.Token))
	}
	if a.NkeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(a.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("reading the nkey seed in nats.nkey_seed_file %s: %w (want a file holding a user seed, SU…; 'nsc generate nkey -u' makes one)", a.NkeySeedFile, redactErr(err))
		}
		opts = append(opts, o)
	}
	if a.CredsFile != "" {
		if _, err := os.Stat(a.CredsFile); err != nil {
			return nil, fmt.Errorf("nats.credentials: %w", err)
		}
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" || a.TLSKey != "" {
		if a.TLSCert == "" || a.TLSKey == "" {
			return nil, errors.New("nats.tls_cert and nats.tls_key go together: set both")
		}
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	return opts, nil
}

// applyServer configures what the embedded server accepts.
func (a Auth) applyServer(opts *server.Options) error {
	if a.Token != "" && (a.User != "" || a.NkeySeedFile != "") {
		return errors.New("nats.token cannot be combined with nats.user or nats.nkey_seed_file on the embedded server: choose one")
	}
	if a.User != "" {
		if a.Password == "" {
			return errors.New("nats.user is set without nats.password: set a password (it is never shown or logged)")
		}
		opts.Users = append(opts.Users, &server.User{Username: a.User, Password: a.Password})
	} else if a.Password != "" {
		return errors.New("nats.password is set without nats.user: set both, or neither")
	}
	if a.Token != "" {
		opts.Authorization = a.Token
	}
	if a.NkeySeedFile != "" {
		pub, err := nkeyPublic(a.NkeySeedFile)
		if err != nil {
			return err
		}
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: pub})
	}
	if a.TLSCert != "" || a.TLSKey != "" || a.TLSVerifyClients {
		if a.TLSCert == "" || a.TLSKey == "" {
			return errors.New("TLS on the embedded server needs nats.tls_cert and nats.tls_key")
		}
		if a.TLSVerifyClients && a.TLSCA == "" {
			return errors.New("nats.tls_verify_clients needs nats.tls_ca, the CA that signs client certificates")
		}
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: a.TLSCert, KeyFile: a.TLSKey, CaFile: a.TLSCA, Verify: a.TLSVerifyClients})
		if err != nil {
			return fmt.Errorf("loading the NATS TLS certificate (nats.tls_cert %s, nats.tls_key, nats.tls_ca): %w", a.TLSCert, err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify, opts.TLSTimeout = tc, true, a.TLSVerifyClients, 5
	}
	return nil
}

// nkeyPublic reads a user seed file and returns its public key. Errors
// never carry the file's content.
func nkeyPublic(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading nats.nkey_seed_file: %w", err)
	}
	seed := []byte(strings.TrimSpace(string(b)))
	for line := range strings.Lines(string(b)) {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "SU") {
			seed = []byte(l)
			break
		}
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return "", fmt.Errorf("nats.nkey_seed_file %s does not hold a user nkey seed (SU…): %w", file, redactErr(err))
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return "", fmt.Errorf("deriving the public key of nats.nkey_seed_file %s: %w", file, redactErr(err))
	}
	if !strings.HasPrefix(pub, "U") {
		return "", fmt.Errorf("nats.nkey_seed_file %s holds a non-user nkey: generate a user seed (SU…)", file)
	}
	return pub, nil
}

// redactErr keeps an error's message only when it cannot carry a secret.
func redactErr(err error) error {
	if strings.Contains(err.Error(), "SU") {
		return errors.New("invalid seed")
	}
	return err
}

// IsLoopback reports whether host (of host:port) only accepts local
// connections: "localhost" or a loopback IP. "" and 0.0.0.0 are not.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
