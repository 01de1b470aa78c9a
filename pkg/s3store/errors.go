package s3store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"

	"github.com/minio/minio-go/v7"

	"github.com/spx-archive/spx/pkg/spx"
)

// ErrCredentials marks a request S3 refused because of the credentials or
// their permissions: fixing the configuration is the only remedy.
var ErrCredentials = errors.New("S3 refused the credentials")

// ErrNoBucket marks a bucket that does not exist.
var ErrNoBucket = errors.New("S3 bucket does not exist")

// ErrNoCredentials is returned when no source of credentials gave any.
var ErrNoCredentials = spx.Permanent(errors.New("no S3 credentials found: set s3.access_key_id and s3.secret_access_key (SPX_S3_ACCESS_KEY_ID, SPX_S3_SECRET_ACCESS_KEY), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE)"))

// credentialCodes are the S3 error codes that mean "these credentials may
// not do this".
var credentialCodes = []string{
	"AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken", "InvalidToken",
	"TokenRefreshRequired", "AuthorizationHeaderMalformed", "InvalidSecurity", "AllAccessDisabled",
	"AccountProblem", "InvalidClientTokenId", "MissingSecurityHeader",
}

// transientCodes are answers worth retrying.
var transientCodes = []string{
	"SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable",
	"OperationAborted", "Throttling", "ThrottlingException", "RequestThrottled", "XMinioServerNotInitialized",
	// Our multipart upload was aborted under us (another writer of the
	// same file finished first): write it again.
	"NoSuchUpload",
}

// Error is a failed S3 request: what was done, on which object, and what
// S3 (or the network) answered. Its class decides what the writer does.
type Error struct {
	Op       string // e.g. "uploading", "reading"
	Location string // s3://bucket/key
	Code     string // S3 error code, "" for a network error
	Status   int    // HTTP status, 0 for a network error
	Class    spx.ErrorClass
	Err      error
	advice   string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Op, e.Location, e.Err)
	if e.advice != "" {
		msg += ": " + e.advice
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorClass implements spx.Classer.
func (e *Error) ErrorClass() spx.ErrorClass { return e.Class }

// Is lets errors.Is match ErrCredentials, ErrNoBucket and fs.ErrNotExist.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrCredentials:
		return slices.Contains(credentialCodes, e.Code)
	case ErrNoBucket:
		return e.Code == "NoSuchBucket"
	case fs.ErrNotExist:
		return e.Code == "NoSuchKey" || e.Code == "NotFound" || (e.Status == http.StatusNotFound && e.Code != "NoSuchBucket")
	}
	return false
}

// wrap classifies err from a request doing op on loc; endpoint is named
// in the advice for network errors.
func (s *Store) wrap(op, loc string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Op: op, Location: loc, Class: spx.ClassTransient, Err: err}
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: op, Location: loc, Err: err}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		e.Code, e.Status = er.Code, er.StatusCode
	}
	switch {
	case e.Code == "" && e.Status == 0:
		e.Class = spx.ClassTransient
		e.advice = fmt.Sprintf("S3 endpoint %s did not answer (is it running and reachable? check s3.endpoint); retried", s.endpoint)
	case slices.Contains(credentialCodes, e.Code):
		e.Class = spx.ClassPermanent
		e.Err = fmt.Errorf("%w (%s: %s)", ErrCredentials, e.Code, er.Message)
		e.advice = "check s3.access_key_id and s3.secret_access_key (or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE), " +
			"that they may list, read, write and delete under " + s.url + ", and that s3.region matches the bucket"
	case e.Code == "NoSuchBucket":
		e.Class = spx.ClassPermanent
		e.advice = fmt.Sprintf("create bucket %s at %s, or fix processing.output_dir and s3.endpoint", s.bucket, s.endpoint)
	case e.Is(fs.ErrNotExist):
		e.Class = spx.ClassPermanent
		e.Err = fmt.Errorf("%w (%s)", fs.ErrNotExist, er.Message)
	case slices.Contains(transientCodes, e.Code) || e.Status >= 500 || e.Status == http.StatusTooManyRequests:
		e.Class = spx.ClassTransient
	default:
		e.Class = spx.ClassPermanent
	}
	return e
}
