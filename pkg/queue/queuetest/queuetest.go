// Package queuetest starts an embedded JetStream server on a random port for
// tests. It must not be imported by non-test code.
package queuetest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/spx-archive/spx/pkg/queue"
)

// Start runs an embedded server (JetStream in t.TempDir(), random client and
// monitoring ports) and returns it with a connection; both stop at cleanup.
func Start(t testing.TB) (*queue.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv, err := queue.StartServer(queue.ServerOptions{Listen: "127.0.0.1:0", Monitor: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, nc, js
}
