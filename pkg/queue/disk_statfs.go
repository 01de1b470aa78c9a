//go:build linux || darwin || freebsd

package queue

import "syscall"

// fsSpace is the free (for an unprivileged user) and total bytes of the
// file system holding dir.
func fsSpace(dir string) (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), int64(uint64(st.Blocks) * uint64(st.Bsize)), nil
}
