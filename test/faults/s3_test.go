package faults

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/minio/minio-go/v7"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/s3store/s3test"
	"github.com/spx-archive/spx/pkg/spx"
)

// s3World is a cluster whose archive is a bucket on the shared SeaweedFS:
// the coordinator and every writer reach it over S3 only, each in its own
// working directory, with no disk in common.
type s3World struct {
	*cluster
	srv    *s3test.Server
	bucket string
	prefix string // key prefix of the archive, ending in "/"
}

var bucketUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

func newS3Cluster(t *testing.T, o clusterOptions) *s3World {
	t.Helper()
	srv := s3test.Shared(t)
	bucket := strings.Trim(bucketUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(bucket) > 60 {
		bucket = strings.TrimRight(bucket[:60], "-")
	}
	srv.MakeBucket(t, bucket)
	o.outDir = "s3://" + bucket + "/archive"
	o.env = append(o.env, "SPX_S3_ENDPOINT="+srv.Endpoint, "SPX_S3_ACCESS_KEY_ID="+s3test.AccessKey, "SPX_S3_SECRET_ACCESS_KEY="+s3test.SecretKey)
	return &s3World{cluster: newCluster(t, o), srv: srv, bucket: bucket, prefix: "archive/"}
}

// writerIn starts `spx writer` with dir as its working directory and its
// temporary directory (the upload spool) inside it.
func (w *s3World) writerIn(dir string, n int, extra ...string) *proc {
	w.t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		w.t.Fatal(err)
	}
	extra = append([]string{"SPX_PROCESSING_TEMP_DIR=" + filepath.Join(dir, "temp")}, extra...)
	p := w.startIn(dir, "writer in "+filepath.Base(dir), extra, "writer", "--nats", w.natsURL, "--writers", fmt.Sprint(n))
	p.waitFor(w.t, regexp.MustCompile(`spx: running`), 30*time.Second)
	return p
}

// spoolFiles lists the upload spool files in a writer's directory.
func spoolFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "temp", "spx-upload-*"))
	return m
}

// checkS3 is check for a bucket; the coordinator must be stopped. Every
// written job's object is in the bucket with the rows the simulator served
// (read from its footer over S3); the bucket holds nothing else under the
// prefix but the day manifests (no temporary key, no probe, no part); no
// multipart upload is left incomplete; spx verify passes against the
// bucket unless failures are allowed.
func (w *s3World) checkS3(dates []spx.Date, allowFailed bool) []spx.JobRecord {
	t := w.t
	t.Helper()
	expected := map[string]bool{}
	written := map[string]spx.JobRecord{}
	jobs := w.checkOutcomes(dates, allowFailed, func(j spx.JobRecord) {
		key := w.prefix + j.Key.RelPath()
		written[key] = j
		expected[key] = true
		expected[w.prefix+path.Join(spx.DayDir(j.Key.Dataset, j.Key.Root, j.Key.Date), archive.ManifestName)] = true
	})
	objs := w.srv.Objects(t, w.bucket, w.prefix)
	for key := range objs {
		if !expected[key] {
			t.Errorf("object %s belongs to no written job and is no manifest of one", key)
		}
	}
	cl := w.srv.Client()
	for key, j := range written {
		if _, ok := objs[key]; !ok {
			t.Errorf("%s: recorded written, missing from the bucket", key)
			continue
		}
		if n := objectRows(t, cl, w.bucket, key); n != j.Rows {
			t.Errorf("%s: %d rows in the object, %d recorded", key, n, j.Rows)
		}
	}
	if ups := w.srv.IncompleteUploads(t, w.bucket, ""); len(ups) != 0 {
		t.Errorf("incomplete multipart uploads left in the bucket: %v", ups)
	}
	if !allowFailed {
		out, code := w.cli(time.Minute, "verify", "--format", "table", "--from", dates[0].String(), "--to", dates[len(dates)-1].String())
		if code != 0 || !strings.Contains(out, "0 problems") {
			t.Errorf("spx verify against the bucket: exit %d:\n%s", code, out)
		}
	}
	return jobs
}

// objectRows reads a Parquet object's row count from its footer (ranged
// GETs), as a query engine would.
func objectRows(t *testing.T, cl *minio.Client, bucket, key string) int64 {
	t.Helper()
	obj, err := cl.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Errorf("%s: %v", key, err)
		return -1
	}
	defer obj.Close()
	r, err := file.NewParquetReader(obj)
	if err != nil {
		t.Errorf("%s: not a readable Parquet file: %v", key, err)
		return -1
	}
	defer r.Close()
	return r.NumRows()
}

var writtenRe = regexp.MustCompile(`msg=written `)

// Two writer processes with separate working directories write into one
// bucket: every file lands once, the rows are what the simulator served,
// spx verify passes against the bucket, and both writers did part of it.
func TestS3TwoWritersOneBucket(t *testing.T) {
	w := newS3Cluster(t, clusterOptions{})
	coord := w.coordinator()
	w.fetcher(2)
	dirA, dirB := filepath.Join(w.dir, "host-a"), filepath.Join(w.dir, "host-b")
	a := w.writerIn(dirA, 1)
	b := w.writerIn(dirB, 1)
	start := time.Now()
	if out, code := w.process("2024-03-04", "2024-03-05", 2*time.Minute); code != 0 {
		t.Fatalf("process-range exit %d:\n%s", code, out)
	}
	t.Logf("processed into s3://%s/%s in %s", w.bucket, w.prefix, time.Since(start).Round(time.Millisecond))
	a.stop(t)
	b.stop(t)
	coord.stop(t)
	jobs := w.checkS3(twoDays, false)
	nA, nB := len(writtenRe.FindAllString(a.Log(), -1)), len(writtenRe.FindAllString(b.Log(), -1))
	if nA+nB != len(jobs) {
		t.Errorf("writers wrote %d + %d files for %d jobs: every file must land once", nA, nB, len(jobs))
	}
	if nA == 0 || nB == 0 {
		t.Errorf("writers wrote %d and %d files: both should have taken part", nA, nB)
	}
	for _, d := range []string{dirA, dirB} {
		if left := spoolFiles(d); len(left) != 0 {
			t.Errorf("spool files left in %s: %v", d, left)
		}
	}
	t.Logf("outcomes %v; writer A %d files, writer B %d", countOutcomes(jobs), nA, nB)
}

// A writer killed (kill -9) in the middle of an upload leaves no visible
// object, partial or whole; its job completes on another writer, which
// also aborts the dead writer's incomplete multipart upload; a writer
// started later in the dead one's directory removes its spool file.
func TestS3KillWriterMidUpload(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		// 64 KiB parts make the ~200 KB files multipart uploads; S3 would
		// refuse to complete them, which the victim never gets to do.
		{"multipart", []string{"SPX_TEST_S3_PART_SIZE=65536"}},
		{"single PUT", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newS3Cluster(t, clusterOptions{simArgs: []string{"--max-strikes", "40"}, env: []string{"SPX_PROCESSING_ROOTS=SPXW"}})
			coord := w.coordinator()
			w.fetcher(2)
			victimDir := filepath.Join(w.dir, "victim")
			victim := w.writerIn(victimDir, 1, append([]string{"SPX_TEST_PAUSE=writer.mid_upload"}, tc.extra...)...)
			done := make(chan struct{})
			var out string
			var code int
			go func() {
				defer close(done)
				out, code = w.process("2024-03-04", "2024-03-04", 2*time.Minute)
			}()
			victim.waitFor(t, pauseRe, time.Minute)
			ups := w.srv.IncompleteUploads(t, w.bucket, w.prefix)
			if objs := w.srv.Objects(t, w.bucket, w.prefix); len(objs) != 0 {
				t.Errorf("mid-upload, objects are visible: %v", objs)
			}
			if tc.extra != nil && len(ups) != 1 {
				t.Errorf("mid-multipart-upload, incomplete uploads %v, want one", ups)
			}
			if len(spoolFiles(victimDir)) != 1 {
				t.Errorf("mid-upload, spool files %v, want one", spoolFiles(victimDir))
			}
			victim.kill(t)
			killed := time.Now()
			if objs := w.srv.Objects(t, w.bucket, w.prefix); len(objs) != 0 {
				t.Errorf("after the kill, objects are visible: %v", objs)
			}
			survivor := w.writerIn(filepath.Join(w.dir, "survivor"), 1)
			<-done
			if code != 0 {
				t.Fatalf("process-range exit %d:\n%s", code, out)
			}
			t.Logf("recovered %s after the kill (incomplete uploads at the kill: %v)", time.Since(killed).Round(time.Millisecond), ups)
			// The dead writer's spool file stays until a writer starts there.
			if len(spoolFiles(victimDir)) != 1 {
				t.Errorf("the killed writer's spool file is gone before anyone cleaned up: %v", spoolFiles(victimDir))
			}
			again := w.writerIn(victimDir, 1)
			deadline := time.Now().Add(20 * time.Second)
			for len(spoolFiles(victimDir)) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("a writer started in the killed writer's directory left its spool file: %v", spoolFiles(victimDir))
				}
				time.Sleep(50 * time.Millisecond)
			}
			again.stop(t)
			survivor.stop(t)
			coord.stop(t)
			jobs := w.checkS3(twoDays[:1], false)
			for _, j := range jobs {
				if j.Outcome != spx.JobWritten {
					t.Errorf("%s: %s", j.Key, j.Outcome)
				}
			}
		})
	}
}

// A writer with a wrong secret key stops at once with a clear error and
// exit status 1, before it takes any job: nothing is written or marked
// written. spx verify with the wrong key fails the same way. With the key
// fixed the day completes.
func TestS3BadCredentials(t *testing.T) {
	const wrong = "wrong-secret-key-0123456789"
	w := newS3Cluster(t, clusterOptions{})
	coord := w.coordinator()
	w.fetcher(2)
	badDir := filepath.Join(w.dir, "bad")
	os.MkdirAll(badDir, 0o700)
	bad := w.startIn(badDir, "writer with a wrong key", []string{"SPX_S3_SECRET_ACCESS_KEY=" + wrong, "SPX_PROCESSING_TEMP_DIR=" + filepath.Join(badDir, "temp")},
		"writer", "--nats", w.natsURL, "--writers", "1")
	select {
	case <-bad.done:
	case <-time.After(time.Minute):
		t.Fatalf("the writer with a wrong key is still running after a minute:\n%s", tail(bad.Log()))
	}
	if code := bad.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("writer with a wrong key: exit %d, want 1", code)
	}
	for _, want := range []string{"S3 refused the credentials", "check s3.access_key_id and s3.secret_access_key"} {
		if !strings.Contains(bad.Log(), want) {
			t.Errorf("the writer's error does not say %q:\n%s", want, tail(bad.Log()))
		}
	}
	t.Logf("the writer with a wrong key said: %s", strings.TrimSpace(bad.Log()[strings.LastIndex(strings.TrimSpace(bad.Log()), "\n")+1:]))
	if strings.Contains(bad.Log(), wrong) || strings.Contains(bad.Log(), s3test.SecretKey) {
		t.Errorf("the writer's output shows a secret key:\n%s", bad.Log())
	}
	if out, code := w.cli(time.Minute, "enqueue-gaps", "--start-date", "2024-03-04", "--end-date", "2024-03-04", "--nats", w.natsURL); code != 0 {
		t.Fatalf("enqueue-gaps exit %d:\n%s", code, out)
	}
	time.Sleep(3 * time.Second) // fetchers stage the jobs; no writer takes them
	if objs := w.srv.Objects(t, w.bucket, ""); len(objs) != 0 {
		t.Errorf("objects written although no writer could: %v", objs)
	}
	coord.stop(t)
	for _, j := range w.jobs(twoDays[:1]...) {
		if j.Outcome == spx.JobWritten {
			t.Errorf("%s is marked written, but no writer could write", j.Key)
		}
	}
	out, code := w.cliEnv([]string{"SPX_S3_SECRET_ACCESS_KEY=" + wrong}, time.Minute, "verify")
	if code != 1 || !strings.Contains(out, "S3 refused the credentials") || strings.Contains(out, wrong) {
		t.Errorf("spx verify with a wrong key: exit %d, want 1 with the refusal and no secret:\n%s", code, out)
	}

	coord = w.coordinator()
	good := w.writerIn(filepath.Join(w.dir, "good"), 1)
	w.waitFinished(twoDays[:1], 2*time.Minute)
	good.stop(t)
	coord.stop(t)
	w.checkS3(twoDays[:1], false)
}
