// Package thetadata is the client for the Theta Terminal's HTTP API, both
// generations (v3 on port 25503 and the legacy v2 on 25510). It implements
// spx.Source: list endpoints, and History, which streams rows normalised onto
// a dataset's canonical columns while the response is still arriving.
//
// It must not hold a whole history response in memory, must never turn a
// body cut short into a silently short result, and must not retry: it
// classifies every failure (spx.ErrorClass) and the fetcher decides what to
// do. It knows nothing of NATS, Parquet or job bookkeeping.
package thetadata
