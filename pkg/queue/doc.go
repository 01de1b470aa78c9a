// Package queue is spx's JetStream adapter: the topology (streams, consumers,
// the staging object store, the dead-letter capture), the embedded server,
// wire-message publishing, the pull loop that hands out one job at a time,
// and the one place that turns an error class into Ack, NakWithDelay or
// Term. It must not know what a job does: fetching, writing and status
// bookkeeping live in the role packages.
package queue
