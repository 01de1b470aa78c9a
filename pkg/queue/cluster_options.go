package queue

import (
	"fmt"
	"net/url"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterOptions makes an embedded server one node of a NATS cluster
// (routes between servers; JetStream replicated with Raft). Production
// clusters usually run nats-server itself (deployments/nats/); this is for
// tests and for an spx node that doubles as a cluster member.
type ClusterOptions struct {
	Name   string   // cluster name, the same on every node
	Listen string   // route listener host:port; port 0 picks a free port
	Routes []string // nats-route://host:port of the other nodes (own URL allowed)
}

func (c *ClusterOptions) apply(opts *server.Options) error {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("reading the cluster listen address %q: %w (want host:port)", c.Listen, err)
	}
	opts.Cluster.Name = c.Name
	opts.Cluster.Host, opts.Cluster.Port = host, port
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("cluster route %q must be a URL such as nats-route://10.0.0.2:6222", r)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// ClusterURL is the route URL other nodes use to reach this one ("" when
// the server is not clustered).
func (s *Server) ClusterURL() string {
	a := s.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + a.String()
}
