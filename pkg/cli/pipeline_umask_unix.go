//go:build unix

package cli

import "syscall"

// restrictUmask makes every directory and file the roles create private to
// this user (0700 / 0600), whatever the caller's umask.
func restrictUmask() { syscall.Umask(0o077) }
