// Package s3store keeps the Parquet archive in a bucket of an
// S3-compatible object store (AWS S3, Cloudflare R2, Google Cloud
// Storage's XML API, MinIO, SeaweedFS, Ceph …), for processing.output_dir
// = s3://bucket/prefix. It implements archive.Store with
// github.com/minio/minio-go/v7, which signs every request.
//
// A file becomes visible only whole: the archive writes it into a spool
// file under processing.temp_dir, and Commit uploads that file with one
// PUT, or for a file larger than a part as a multipart upload that is
// completed last (S3 shows neither until it is done). A failed upload is
// aborted; one whose writer died (SIGKILL) is aborted by the writer that
// next writes the same file, and any left older than StaleUploadAge by the
// janitor each writer process runs, which also removes spool files of
// processes that are gone. Memory does not grow with a file's size: parts
// are streamed from the spool file.
//
// It must not know about Parquet, NATS or the status store: it stores
// bytes under names. Errors carry their class (spx.ClassOf): refused
// credentials and a missing bucket are permanent and say what to fix; an
// unreachable endpoint, throttling and 5xx answers are transient.
// Credentials are never logged or put into an error.
package s3store
