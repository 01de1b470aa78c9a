package queue_test

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestDeploymentNATSConfigs parses deployments/nats/*.conf with the
// nats-server library spx embeds, so the shipped cluster configs stay valid.
func TestDeploymentNATSConfigs(t *testing.T) {
	t.Setenv("SPX_NATS_USER", "spx")
	t.Setenv("SPX_NATS_PASSWORD", "secret")
	files, err := filepath.Glob("../../deployments/nats/*.conf")
	if err != nil || len(files) != 3 {
		t.Fatalf("want three node configs, found %v (%v)", files, err)
	}
	names := map[string]bool{}
	for _, f := range files {
		o, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !o.JetStream || o.Cluster.Name != "spx" || len(o.Routes) != 3 || o.Username != "spx" || o.Password != "secret" {
			t.Errorf("%s: jetstream %v cluster %q routes %d user %q", f, o.JetStream, o.Cluster.Name, len(o.Routes), o.Username)
		}
		if o.HTTPHost != "127.0.0.1" {
			t.Errorf("%s: monitoring on %q, want loopback", f, o.HTTPHost)
		}
		names[o.ServerName] = true
	}
	if len(names) != 3 {
		t.Errorf("server names %v are not distinct", names)
	}
}
