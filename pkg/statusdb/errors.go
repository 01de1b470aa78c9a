package statusdb

import "errors"

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
