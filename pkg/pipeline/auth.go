package pipeline

import (
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/queue"
)

// NATSAuth is the NATS security of cfg: what the embedded server accepts
// and what every role presents as a client.
func NATSAuth(cfg config.Config) queue.Auth {
	return queue.Auth{
		User: cfg.NATSUser, Password: cfg.NATSPassword, Token: cfg.NATSToken,
		NkeySeedFile: cfg.NATSNkeySeedFile, CredsFile: cfg.NATSCredentials,
		TLSCert: cfg.NATSTLSCert, TLSKey: cfg.NATSTLSKey, TLSCA: cfg.NATSTLSCA,
		TLSVerifyClients: cfg.NATSTLSVerifyClients,
	}
}

// ConnectAuth connects to NATS presenting auth, reconnecting forever; extra
// options (a timeout, say) are applied last. Errors never carry secrets.
func ConnectAuth(url string, auth queue.Auth, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := auth.ClientOptions()
	if err != nil {
		return nil, err
	}
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1)}, opts...)
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s (auth: %s): %w (is the server running? check nats.url / --nats and the nats.* credentials)", url, auth, err)
	}
	return nc, nil
}
