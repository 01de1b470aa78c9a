package spx

import (
	"context"
	"errors"
	"fmt"
)

// ErrorClass says what the pipeline does with an error (DESIGN.md §2).
type ErrorClass string

// Error classes.
const (
	ClassOK        ErrorClass = "ok"
	ClassEmpty     ErrorClass = "empty"     // NO_DATA: job outcome empty, not a gap
	ClassTransient ErrorClass = "transient" // retry in process, then NakWithDelay
	ClassSplit     ErrorClass = "split"     // request too large: split it or fail
	ClassPermanent ErrorClass = "permanent" // Term; job failed; user must act
)

// Classer is implemented by errors that know their class.
type Classer interface {
	ErrorClass() ErrorClass
}

// ClassOf returns the class of err: nil is ClassOK; an error implementing
// Classer (anywhere in its chain) gives its class; context cancellation and
// deadlines are transient; anything else is permanent, so an unknown failure
// is reported to the user instead of retried forever.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return ClassOK
	}
	var c Classer
	if errors.As(err, &c) {
		return c.ErrorClass()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return ClassTransient
	}
	return ClassPermanent
}

// ClassedError attaches a class to an error.
type ClassedError struct {
	Class ErrorClass
	Err   error
}

func (e *ClassedError) Error() string          { return e.Err.Error() }
func (e *ClassedError) Unwrap() error          { return e.Err }
func (e *ClassedError) ErrorClass() ErrorClass { return e.Class }

// WithClass wraps err so that ClassOf reports class.
func WithClass(class ErrorClass, err error) error {
	if err == nil {
		return nil
	}
	return &ClassedError{Class: class, Err: err}
}

// Transient marks err as transient (retry).
func Transient(err error) error { return WithClass(ClassTransient, err) }

// Permanent marks err as permanent (fail the job, tell the user).
func Permanent(err error) error { return WithClass(ClassPermanent, err) }

// ErrNoData is returned by a Source when the terminal answers NO_DATA (472).
var ErrNoData = WithClass(ClassEmpty, errors.New("no data for this request (472 NO_DATA)"))

// Detailer is implemented by errors that carry a sample of the offending
// input (the head of a malformed response, the bad line of a staged file),
// which the error log keeps beside the message.
type Detailer interface {
	Detail() string
}

// DetailOf returns the sample carried by err or any error it wraps, or "".
func DetailOf(err error) string {
	var d Detailer
	if errors.As(err, &d) {
		return d.Detail()
	}
	return ""
}

// RefusedError is a request refused for what it asks, not for a fault: a
// day that is not a trading session, lies outside the exchange calendar, or
// is not final yet (pkg/calendar's CheckDay). Its message is one line for
// people saying why and what to do; nothing was recorded. The CLI exits 2
// on it, the control API and the web API answer 400.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

// Refusedf returns a *RefusedError with a formatted message.
func Refusedf(format string, args ...any) error {
	return &RefusedError{Msg: fmt.Sprintf(format, args...)}
}

// IsRefused reports whether err, or an error it wraps, is a *RefusedError.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
