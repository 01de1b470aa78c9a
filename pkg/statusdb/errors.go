package statusdb

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped, with the file name and what to do) by
// Open. Test for them with errors.Is.
var (
	// ErrLocked: another process (normally the coordinator) holds the file.
	ErrLocked = errors.New("status database is locked by another spx process")
	// ErrCorrupt: the file is not an spx database, or it is damaged.
	ErrCorrupt = errors.New("not an spx database or corrupt")
	// ErrNewerSchema: the file was written by a newer spx than this one.
	ErrNewerSchema = errors.New("status database written by a newer spx")
	// ErrPath: the file's directory does not exist, is not a directory, or
	// cannot be written.
	ErrPath = errors.New("status database path is not usable")
)

// openError carries a complete message for a person and matches its
// sentinel (and the underlying cause, if any) with errors.Is, without
// repeating the sentinel's text.
type openError struct {
	msg   string
	kinds []error
}

func (e *openError) Error() string   { return e.msg }
func (e *openError) Unwrap() []error { return e.kinds }

func newError(kind error, format string, args ...any) error {
	kinds := []error{kind}
	for _, a := range args {
		if err, ok := a.(error); ok {
			kinds = append(kinds, err)
		}
	}
	return &openError{msg: fmt.Sprintf(format, args...), kinds: kinds}
}
