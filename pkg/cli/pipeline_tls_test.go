package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/spx-archive/spx/internal/syncbuf"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

// writeTestCerts writes a CA and one certificate for 127.0.0.1 usable as
// server and client (one machine runs the embedded server and the roles
// with the same nats.tls_cert).
func writeTestCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spx test CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "host-a"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("host.pem", "CERTIFICATE", der), write("host-key.pem", "EC PRIVATE KEY", kd)
}

// TestRunWithMutualTLS runs spx run on 0.0.0.0 with mutual TLS as its only
// credential (allowed: clients need a certificate from the CA), and reads
// the live status over tls:// with the same keys; without a client
// certificate no live figures come back.
func TestRunWithMutualTLS(t *testing.T) {
	sim := terminalsim.New(terminalsim.Config{Seed: 4, MaxExpirations: 1, MaxStrikes: 2})
	v3, _, stopSim, err := sim.Listen("127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stopSim()
	dir := t.TempDir()
	ca, cert, key := writeTestCerts(t, dir)
	t.Setenv("SPX_NATS_STORE_DIR", filepath.Join(dir, "nats"))
	t.Setenv("SPX_PROCESSING_TEMP_DIR", filepath.Join(dir, "temp"))
	t.Setenv("SPX_THETADATA_API", "v3")
	t.Setenv("SPX_NATS_TLS_CERT", cert)
	t.Setenv("SPX_NATS_TLS_KEY", key)
	t.Setenv("SPX_NATS_TLS_CA", ca)
	t.Setenv("SPX_NATS_TLS_VERIFY_CLIENTS", "true")
	db := filepath.Join(dir, "spx.db")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	var runErr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(runCtx, []string{"run", "--listen", "0.0.0.0:0", "--monitor", "", "--http", "", "--fetchers", "1", "--writers", "1",
			"--db", db, "--terminal", v3}, io.Discard, &runErr)
	}()
	re := regexp.MustCompile(`NATS on (tls://[^\s,]+)`)
	var url string
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("spx run exited %d: %s", code, runErr.String())
		case <-ctx.Done():
			t.Fatalf("spx run did not start: %s", runErr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := re.FindStringSubmatch(runErr.String()); m != nil {
			url = m[1]
		}
	}
	status := func() statusOutput {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(ctx, []string{"status", "--format", "json", "--nats", url, "--db", db}, &out, &errb); code != 0 {
			t.Fatalf("status: exit %d: %s", code, errb.String())
		}
		var st statusOutput
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return st
	}
	if st := status(); st.NATS != url || len(st.Queues) != 2 {
		t.Errorf("with the client certificate: nats %q, queues %+v, live error %q", st.NATS, st.Queues, st.LiveError)
	}
	// Without a client certificate the server refuses the connection; the
	// coordinator holds the database, so status cannot read it at all.
	t.Setenv("SPX_NATS_TLS_CERT", "")
	t.Setenv("SPX_NATS_TLS_KEY", "")
	var out, errb bytes.Buffer
	if code := Main(ctx, []string{"status", "--format", "json", "--nats", url, "--db", db}, &out, &errb); code != 1 {
		t.Errorf("status without a client certificate: exit %d, want 1: %s%s", code, out.String(), errb.String())
	}
	stopRun()
	if code := <-done; code != 0 {
		t.Errorf("spx run exit %d: %s", code, runErr.String())
	}
}
