package spx

import "time"

// FollowStatus says when a coordinator that follows the calendar enqueues
// the next session by itself (spx status, /api/status).
type FollowStatus struct {
	Enabled bool `json:"enabled"`
	// NextDate is the next session to enqueue, at NextAt (its close plus
	// the delay).
	NextDate Date      `json:"next_date,omitzero"`
	NextAt   time.Time `json:"next_at,omitzero"`
	// LastEnqueued is the latest session the follower queued, and when.
	LastEnqueued   Date      `json:"last_enqueued,omitzero"`
	LastEnqueuedAt time.Time `json:"last_enqueued_at,omitzero"`
	// Waiting says why NextDate is overdue (its listing failed), if it is.
	Waiting     string    `json:"waiting,omitempty"`
	LastRecheck time.Time `json:"last_recheck,omitzero"`
	NextRecheck time.Time `json:"next_recheck,omitzero"`
	// Retried counts days the rechecks queued again.
	Retried int `json:"retried"`
}
