package cli

import (
	"net"
	"os"
	"testing"
)

// TestMain points the CLI's default NATS address at a port nothing listens
// on, so a developer's own `spx run` on 127.0.0.1:4222 never answers the
// tests' commands (tests that start a cluster set their own address).
func TestMain(m *testing.M) {
	if os.Getenv("SPX_NATS_LISTEN") == "" {
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			addr := ln.Addr().String()
			ln.Close()
			os.Setenv("SPX_NATS_LISTEN", addr)
		}
	}
	os.Exit(m.Run())
}
