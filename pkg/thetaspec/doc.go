// Package thetaspec is spx's own summary of ThetaData's v3 OpenAPI file
// (title "Theta Data v3") for the endpoints spx calls and the list and
// history endpoints of its five datasets: per endpoint, every parameter with
// its type, format, allowed values and default, and the response's columns
// in order with their types, each citing the spec path it comes from and
// the mirror (repository, file, commit) it was derived from.
//
// The table (contract.yaml) is written by Derive from the spec and checked
// against it by this package's tests whenever the spec file is at hand; the
// spec itself is not part of spx. Exceptions (exceptions.yaml) list, each
// with a reason, what the simulator or the client knowingly does
// differently. Tests of pkg/terminalsim and pkg/thetadata and
// `spx config validate --deep` check answers and requests against the
// table.
//
// It must not talk to a terminal, and it must not hold the spec's text: only
// the facts spx checks (names, types, formats, allowed values, order).
package thetaspec
