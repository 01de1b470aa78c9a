package termproxy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// IsLoopback reports whether a listen address ("host:port") only accepts
// connections from this machine. An empty host, 0.0.0.0, :: and any name
// other than localhost count as reachable from elsewhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.IsLoopback()
}

// CheckListen refuses a non-loopback listen address without a token: anyone
// who reaches it could spend the terminal's subscription and its one client
// address. The error wraps ErrNoToken and says how to set one.
func CheckListen(addr, token string) error {
	if token != "" || IsLoopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: refusing to listen on %s, which other machines can reach, without a token "+
		"(anyone reaching it could use your ThetaData subscription): create one with "+
		"'openssl rand -hex 32 > proxy.token' and pass --token-file proxy.token (or set SPX_PROXY_TOKEN), "+
		"and give the same token to the fetchers; or listen on 127.0.0.1 only", ErrNoToken, addr)
}
