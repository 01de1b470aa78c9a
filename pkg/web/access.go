package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Access says who may use the page, its API and /metrics.
type Access struct {
	// Hosts are the names the server answers to in the Host header,
	// besides localhost and IP addresses (see HostAllowed).
	Hosts []string
	// User and Password, when User is set, are required of every request
	// (HTTP basic auth; the browser asks once and sends them along).
	User, Password string
}

// HostAllowed reports whether a request's Host header names this server:
// localhost, an IP address, or one of a.Hosts. A DNS rebinding attack
// makes a page of the attacker's name reach this server (the name now
// resolving to it) as same-origin, but the browser still sends that name
// as Host, so any other name is refused. An IP address cannot be rebound,
// so one is always accepted (as Vite's allowedHosts does); reaching the
// page by a name needs that name in web.hosts.
func (a Access) HostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, h := range a.Hosts {
		if strings.EqualFold(host, strings.TrimSuffix(h, ".")) {
			return true
		}
	}
	return false
}

// WithListenHost returns a that also accepts the host an --http address
// names explicitly (not a wildcard such as 0.0.0.0 or an empty host).
func (a Access) WithListenHost(addr string) Access {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return a
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && ip.IsUnspecified() {
		return a
	}
	a.Hosts = append(append([]string(nil), a.Hosts...), host)
	return a
}

// authorized reports whether r carries the configured credentials; always
// true when none are configured. Digests keep the comparison constant-time
// in the length too.
func (a Access) authorized(r *http.Request) bool {
	if a.User == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	us, ws := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(a.User))
	ps, wp := sha256.Sum256([]byte(p)), sha256.Sum256([]byte(a.Password))
	return subtle.ConstantTimeCompare(us[:], ws[:])&subtle.ConstantTimeCompare(ps[:], wp[:]) == 1
}
