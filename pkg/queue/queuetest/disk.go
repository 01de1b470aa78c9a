package queuetest

import "sync/atomic"

// Disk is a simulated disk for queue.ServerOptions.Disk, holding the NATS
// store and nothing else: its free space is what the test sets less what
// the store holds (Track), which it gets back at once when the store
// deletes (a real file store gets it back when it compacts).
type Disk struct {
	free, total atomic.Int64
	used        atomic.Pointer[func() int64]
}

// NewDisk returns a disk of total bytes with free bytes free.
func NewDisk(free, total int64) *Disk {
	d := &Disk{}
	d.free.Store(free)
	d.total.Store(total)
	return d
}

// Track makes the store's bytes (used) count against the free space.
func (d *Disk) Track(used func() int64) { d.used.Store(&used) }

// SetFree changes the free space besides the store (space freed, or the
// file system grown).
func (d *Disk) SetFree(free int64) {
	d.free.Store(free)
	if d.total.Load() < free {
		d.total.Store(free)
	}
}

// Space implements queue.Disk.
func (d *Disk) Space(string) (free, total int64, err error) {
	free = d.free.Load()
	if u := d.used.Load(); u != nil {
		free -= (*u)()
	}
	return max(free, 0), d.total.Load(), nil
}
