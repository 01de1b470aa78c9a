package queue

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

func startAuthServer(t *testing.T, listen string, a Auth, log *slog.Logger) *Server {
	t.Helper()
	srv, err := StartServer(ServerOptions{Listen: listen, StoreDir: t.TempDir(), Auth: a, Logger: log})
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connectWith(url string, a Auth) error {
	opts, err := a.ClientOptions()
	if err != nil {
		return err
	}
	opts = append(opts, nats.Timeout(3*time.Second), nats.NoReconnect())
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return err
	}
	nc.Close()
	return nil
}

func TestRefusesOpenListenWithoutCredentials(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, err := StartServer(ServerOptions{Listen: listen, StoreDir: t.TempDir()})
		if !errors.Is(err, ErrInsecureListen) {
			t.Fatalf("listen %s without credentials: err = %v, want ErrInsecureListen", listen, err)
		}
		if !strings.Contains(err.Error(), "nats.user") || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("refusal does not say what to do: %v", err)
		}
	}
	// A creds file alone is for external servers: the embedded one cannot check it.
	_, err := StartServer(ServerOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Auth: Auth{CredsFile: "x.creds"}})
	if !errors.Is(err, ErrInsecureListen) {
		t.Fatalf("creds file only: err = %v, want ErrInsecureListen", err)
	}
	// Loopback needs nothing; any credential opens other addresses.
	startAuthServer(t, "127.0.0.1:0", Auth{}, nil)
	srv := startAuthServer(t, "0.0.0.0:0", Auth{User: "spx", Password: "pw"}, nil)
	if !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
		t.Errorf("ClientURL on 0.0.0.0 = %s, want a loopback URL", srv.ClientURL())
	}
}

// nats-server's monitoring port has no authentication: a non-loopback
// address is refused whatever the client credentials.
func TestRefusesOpenMonitor(t *testing.T) {
	for _, mon := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.7:8222"} {
		_, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Monitor: mon, StoreDir: t.TempDir(), Auth: Auth{User: "spx", Password: "pw"}})
		if !errors.Is(err, ErrOpenMonitor) {
			t.Fatalf("monitor %s: err = %v, want ErrOpenMonitor", mon, err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1:8222") || !strings.Contains(err.Error(), `--monitor ""`) {
			t.Errorf("refusal does not say what to do: %v", err)
		}
	}
	srv, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Monitor: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("monitor on loopback: %v", err)
	}
	srv.Shutdown()
}

func TestUserPasswordAndToken(t *testing.T) {
	up := startAuthServer(t, "127.0.0.1:0", Auth{User: "spx", Password: "correct-horse"}, nil)
	tok := startAuthServer(t, "127.0.0.1:0", Auth{Token: "s3cret-token"}, nil)
	tests := []struct {
		name   string
		url    string
		client Auth
		ok     bool
	}{
		{"user/password right", up.ClientURL(), Auth{User: "spx", Password: "correct-horse"}, true},
		{"user/password wrong", up.ClientURL(), Auth{User: "spx", Password: "wrong-pass"}, false},
		{"user/password none", up.ClientURL(), Auth{}, false},
		{"token right", tok.ClientURL(), Auth{Token: "s3cret-token"}, true},
		{"token wrong", tok.ClientURL(), Auth{Token: "other-token"}, false},
		{"token none", tok.ClientURL(), Auth{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := connectWith(tt.url, tt.client)
			if (err == nil) != tt.ok {
				t.Fatalf("connect: err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				for _, s := range []string{"correct-horse", "wrong-pass", "s3cret-token", "other-token"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error shows a secret: %v", err)
					}
				}
			}
		})
	}
}

func TestNkeyAuth(t *testing.T) {
	dir := t.TempDir()
	seedFile := func(name string) string {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, other := seedFile("good.nk"), seedFile("other.nk")
	srv := startAuthServer(t, "0.0.0.0:0", Auth{NkeySeedFile: good}, nil)
	if err := connectWith(srv.ClientURL(), Auth{NkeySeedFile: good}); err != nil {
		t.Fatalf("right nkey refused: %v", err)
	}
	if err := connectWith(srv.ClientURL(), Auth{NkeySeedFile: other}); err == nil {
		t.Fatal("another nkey was accepted")
	}
	if err := connectWith(srv.ClientURL(), Auth{}); err == nil {
		t.Fatal("no credentials were accepted")
	}
	bad := filepath.Join(dir, "bad.nk")
	os.WriteFile(bad, []byte("not a seed"), 0o600)
	if _, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Auth: Auth{NkeySeedFile: bad}}); err == nil {
		t.Fatal("a bad seed file was accepted")
	}
}

func TestTLSAndMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	tlsOnly := startAuthServer(t, "127.0.0.1:0", Auth{TLSCert: pki.serverCert, TLSKey: pki.serverKey, Token: "tok"}, nil)
	mtls := startAuthServer(t, "0.0.0.0:0", Auth{TLSCert: pki.serverCert, TLSKey: pki.serverKey, TLSCA: pki.ca, TLSVerifyClients: true}, nil)
	if !strings.HasPrefix(mtls.ClientURL(), "tls://127.0.0.1:") {
		t.Errorf("ClientURL = %s, want tls://127.0.0.1:…", mtls.ClientURL())
	}
	tests := []struct {
		name   string
		url    string
		client Auth
		ok     bool
	}{
		{"tls with CA", tlsOnly.ClientURL(), Auth{TLSCA: pki.ca, Token: "tok"}, true},
		{"tls without CA (unknown issuer)", tlsOnly.ClientURL(), Auth{Token: "tok"}, false},
		{"mtls with client cert", mtls.ClientURL(), Auth{TLSCA: pki.ca, TLSCert: pki.clientCert, TLSKey: pki.clientKey}, true},
		{"mtls without client cert", mtls.ClientURL(), Auth{TLSCA: pki.ca}, false},
		{"mtls with a foreign client cert", mtls.ClientURL(), Auth{TLSCA: pki.ca, TLSCert: pki.rogueCert, TLSKey: pki.rogueKey}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := connectWith(tt.url, tt.client); (err == nil) != tt.ok {
				t.Fatalf("connect: err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestSecretsNotLogged(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := Auth{User: "spx", Password: "hunter2-pass"}
	startAuthServer(t, "0.0.0.0:0", a, log)
	if strings.Contains(buf.String(), "hunter2-pass") {
		t.Fatalf("log shows the password: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "user/password") {
		t.Errorf("log does not say which auth is on: %s", buf.String())
	}
	if s := (Auth{Token: "tok-123", Password: "pw-123", User: "u"}).String(); strings.Contains(s, "tok-123") || strings.Contains(s, "pw-123") {
		t.Errorf("Auth.String shows a secret: %s", s)
	}
	if _, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Auth: Auth{User: "u", Password: "pw-xyz", Token: "tok-xyz"}}); err == nil || strings.Contains(err.Error(), "xyz") {
		t.Errorf("conflicting auth: err = %v, want an error without secrets", err)
	}
}

type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey, rogueCert, rogueKey string
}

// newTestPKI writes a CA, a server certificate for 127.0.0.1, a client
// certificate signed by the CA and one signed by another CA.
func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	newCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		k := newKey()
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
			KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k, der
	}
	leaf := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) ([]byte, []byte) {
		k := newKey()
		serial++
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der, kd
	}
	ca, caKey, caDER := newCA("spx test CA")
	rogue, rogueKey, _ := newCA("rogue CA")
	var p testPKI
	p.ca = write("ca.pem", "CERTIFICATE", caDER)
	c, k := leaf(ca, caKey, "server", x509.ExtKeyUsageServerAuth)
	p.serverCert, p.serverKey = write("server.pem", "CERTIFICATE", c), write("server-key.pem", "EC PRIVATE KEY", k)
	c, k = leaf(ca, caKey, "fetcher", x509.ExtKeyUsageClientAuth)
	p.clientCert, p.clientKey = write("client.pem", "CERTIFICATE", c), write("client-key.pem", "EC PRIVATE KEY", k)
	c, k = leaf(rogue, rogueKey, "rogue", x509.ExtKeyUsageClientAuth)
	p.rogueCert, p.rogueKey = write("rogue.pem", "CERTIFICATE", c), write("rogue-key.pem", "EC PRIVATE KEY", k)
	return p
}
