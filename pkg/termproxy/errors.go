package termproxy

import "errors"

// ErrNoToken is returned (wrapped, with the address and what to do) when the
// proxy is asked to listen on a non-loopback address without a token.
var ErrNoToken = errors.New("no proxy token")

// ErrConfig is returned (wrapped) when Config is unusable.
var ErrConfig = errors.New("invalid terminal-proxy configuration")
