package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// S3Scheme starts a processing.output_dir that names a bucket of an
// S3-compatible object store instead of a local directory.
const S3Scheme = "s3://"

// bucketName is S3's rule for bucket names (3-63 characters of lower-case
// letters, digits, dots and hyphens, starting and ending with a letter or
// digit); the stricter of the rules AWS, R2, GCS and MinIO apply.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseS3URL splits s3://bucket/prefix into the bucket and the key prefix
// every archive file's name is put under ("" or ending in "/").
func ParseS3URL(v string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(v, S3Scheme)
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", v)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !bucketName.MatchString(bucket) || strings.Contains(bucket, "..") {
		return "", "", fmt.Errorf("bucket %q is not a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens): give s3://bucket/prefix", bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return bucket, "", nil
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		switch {
		case seg == "":
			return "", "", fmt.Errorf("prefix %q has an empty path segment (//): give s3://bucket/prefix", prefix)
		case seg == "." || seg == "..":
			return "", "", fmt.Errorf("prefix %q must not contain . or .. segments", prefix)
		case strings.ContainsAny(seg, "\\\x00\r\n"):
			return "", "", fmt.Errorf("prefix %q must not contain backslashes or control characters", prefix)
		}
	}
	return bucket, prefix + "/", nil
}

// S3Archive reports whether processing.output_dir names a bucket
// (s3://bucket/prefix), with its bucket and key prefix. The value was
// validated when the configuration was resolved.
func (c Config) S3Archive() (bucket, prefix string, ok bool) {
	if !strings.HasPrefix(c.OutputDir, S3Scheme) {
		return "", "", false
	}
	bucket, prefix, err := ParseS3URL(c.OutputDir)
	return bucket, prefix, err == nil
}

// validateOutputDir accepts a local directory path or s3://bucket/prefix.
func validateOutputDir(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty: give a directory path or s3://bucket/prefix")
	}
	if strings.HasPrefix(v, S3Scheme) {
		_, _, err := ParseS3URL(v)
		return err
	}
	if scheme, _, ok := strings.Cut(v, "://"); ok && !strings.ContainsAny(scheme, `/\`) {
		return fmt.Errorf("%s:// is not supported: give a local directory, or s3://bucket/prefix (GCS, R2, MinIO and other S3-compatible stores take s3:// with s3.endpoint)", scheme)
	}
	return nil
}

// validateS3Endpoint accepts "" (AWS S3), host[:port], or an http(s) URL
// without a path.
func validateS3Endpoint(v string) error {
	if v == "" {
		return nil
	}
	s := v
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return errors.New("must be an endpoint such as http://127.0.0.1:8333 or https://ACCOUNT.r2.cloudflarestorage.com (no path, no credentials in it), or empty for AWS S3")
	}
	return nil
}
