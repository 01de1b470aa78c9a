package queue

import (
	"io/fs"
	"path/filepath"
)

// Disk reports the free and total bytes of the file system holding dir.
type Disk func(dir string) (free, total int64, err error)

// FileSystem is the Disk of the real file system (statfs).
func FileSystem(dir string) (free, total int64, err error) { return fsSpace(dir) }

// DirBytes is the size of the files under dir (what a JetStream store
// directory holds on disk).
func DirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Reserves of the NATS store. JetStream's file store keeps purged and
// deleted messages on disk until it compacts a block, writes tombstones to
// delete (a purge on a full disk fails), and rewrites a block to compact
// it; a disk that fills under the store leaves it unable to free anything.
// So staging stops short of the disk and of the store's limit.
const (
	// minDiskReserve and maxDiskReserve bound the disk space kept free
	// under nats.store_dir: 2 % of the file system, at least 4 MiB (for
	// the queues, events, tombstones and compactions; chunks deleted and
	// not given back yet are kept out of staging's share instead, see
	// StoreWatch), at most 1 GiB.
	minDiskReserve = 4 << 20
	maxDiskReserve = 1 << 30
	// minLimitReserve and maxLimitReserve bound the part of the store's
	// limit kept for the queues and events (the staging bucket may use the
	// rest): a tenth, at least 1 MiB, at most 256 MiB.
	minLimitReserve = 1 << 20
	maxLimitReserve = 256 << 20
)

// DiskReserve is the free space kept on a file system of total bytes.
func DiskReserve(total int64) int64 { return min(max(total/50, minDiskReserve), maxDiskReserve) }

// LimitReserve is the part of a store limit of limit bytes kept for
// everything but staging.
func LimitReserve(limit int64) int64 { return min(max(limit/10, minLimitReserve), maxLimitReserve) }

// StoreLimitFor is the JetStream file store limit (max_storage) for a store
// holding used bytes on a disk with free bytes left: what it holds plus
// three quarters of the free space, the server's own default, which it
// computes once at start. spx computes it again as the disk changes and
// raises the running server's limit when there is more room (see
// Server.RaiseStoreLimit).
func StoreLimitFor(used, free int64) int64 {
	return used + max(free, 0)/4*3
}
