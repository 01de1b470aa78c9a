// Package metrics observes the running pipeline for Prometheus (/metrics on
// the coordinator's --http server) and for `spx status`: jobs by outcome,
// rows, bytes and errors by class, terminal latency (all from the job events
// on spx.event.>), queue depth (from JetStream at scrape time) and the
// workers connected (from their heartbeats on spx.worker.<name> and their
// events). Workers announce themselves with a Heartbeat.
//
// It only listens, announces and answers requests: it must not publish,
// acknowledge or consume jobs or events (plain subscriptions, never a
// JetStream consumer), so it never takes an event away from the coordinator.
package metrics
