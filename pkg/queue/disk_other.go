//go:build !(linux || darwin || freebsd)

package queue

import "errors"

// fsSpace cannot measure a file system here: the store's limit stays what
// the server chose at start, and only store-full errors say it is full.
func fsSpace(string) (free, total int64, err error) {
	return 0, 0, errors.ErrUnsupported
}
