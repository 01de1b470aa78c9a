package spx

import "time"

// NATSStore is what spx last learned of the NATS store: the JetStream file
// storage that holds the work queues, the events and the staged objects.
// While Full, fetchers take no job (a job in hand waits, kept in progress,
// and is staged once there is room), so no delivery is used because the
// store is full; writers keep going, and make room as they finish jobs.
type NATSStore struct {
	Full bool `json:"full"`
	// Since is when Full last changed; Checked the last check.
	Since   time.Time `json:"since,omitzero"`
	Checked time.Time `json:"checked,omitzero"`
	// Reason says why the store is full (or, once it has room again, why
	// it was).
	Reason string `json:"reason,omitempty"`
	// Staged is the bytes of the staging bucket; StagedLimit its limit
	// (0: none), which spx keeps to what the disk and the store limit
	// allow, with room to spare for the queues and events.
	Staged      int64 `json:"staged_bytes"`
	StagedLimit int64 `json:"staged_limit_bytes,omitempty"`
	// Used and Limit are the server's JetStream file storage in use and
	// its limit (max_storage), DiskFree the free space of the disk under
	// nats.store_dir: known for the embedded server only.
	Used     int64 `json:"used_bytes,omitempty"`
	Limit    int64 `json:"limit_bytes,omitempty"`
	DiskFree int64 `json:"disk_free_bytes,omitempty"`
}
