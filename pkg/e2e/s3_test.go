package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/spx-archive/spx/pkg/archive"
	"github.com/spx-archive/spx/pkg/config"
	"github.com/spx-archive/spx/pkg/coordinator"
	"github.com/spx-archive/spx/pkg/pipeline"
	"github.com/spx-archive/spx/pkg/s3store/s3test"
	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// The whole pipeline with the archive in a bucket of a real S3 server
// (SeaweedFS): every day completes, the bucket holds exactly the written
// files (hive layout) and the manifests, each file's rows equal what the
// simulator served, spx verify's check passes against the bucket, and the
// files are byte for byte those a local archive gets from the same input.
func TestEndToEndOnS3(t *testing.T) {
	srv := s3test.Shared(t)
	srv.MakeBucket(t, "e2e")
	sim := terminalsim.Config{Seed: 7, Concurrency: 2, MaxExpirations: 3, MaxStrikes: 10}
	e := start(t, envOptions{api: "v3", sim: sim, config: func(c *config.Config) {
		c.OutputDir = "s3://e2e/team/spx"
		c.S3Endpoint, c.S3AccessKeyID, c.S3SecretAccessKey = srv.Endpoint, s3test.AccessKey, s3test.SecretKey
	}})
	local := start(t, envOptions{api: "v3", sim: sim})
	ctx := context.Background()
	d := days[:1]
	for _, env := range []*env{e, local} {
		if _, err := env.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: d}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range e.waitDays(t, d) {
		if p.Day.Status != spx.DaySuccess {
			t.Fatalf("%s: status %s (%v)", p.Day.Date, p.Day.Status, p.Errors)
		}
	}
	local.waitDays(t, d)

	jobs, err := e.store.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	localJobs, err := local.store.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	localSHA := map[spx.JobKey]string{}
	for _, j := range localJobs {
		localSHA[j.Key] = j.SHA256
	}
	arc, err := pipeline.OpenArchive(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	stats := e.sim.Stats()
	want := map[string]bool{}
	for _, j := range jobs {
		if j.Outcome != spx.JobWritten {
			t.Errorf("%s: %s (%s)", j.Key, j.Outcome, j.LastError)
			continue
		}
		want["team/spx/"+j.Key.RelPath()] = true
		want["team/spx/"+spx.DayDir(j.Key.Dataset, j.Key.Root, j.Key.Date)+"/"+archive.ManifestName] = true
		if j.SHA256 != localSHA[j.Key] {
			t.Errorf("%s: SHA-256 %s on S3, %s on disk: not the same bytes", j.Key, j.SHA256, localSHA[j.Key])
		}
		obj, err := arc.Open(ctx, j.Key.RelPath())
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := file.NewParquetReader(obj)
		if err != nil {
			t.Fatalf("%s: %v", j.Key, err)
		}
		if got, served := rdr.NumRows(), stats.RowsServed[j.Key.String()]; got != served || got != j.Rows {
			t.Errorf("%s: %d rows in the object, the simulator served %d, recorded %d", j.Key, got, served, j.Rows)
		}
		rdr.Close()
		obj.Close()
	}
	objs := srv.Objects(t, "e2e", "")
	for k := range objs {
		if !want[k] {
			t.Errorf("object %s belongs to no written job or manifest", k)
		}
		if strings.HasPrefix(k, "team/spx/greeks/") && strings.HasSuffix(k, ".parquet") && !strings.Contains(k, "/root=") {
			t.Errorf("object %s is not in the hive layout", k)
		}
	}
	for k := range want {
		if _, ok := objs[k]; !ok {
			t.Errorf("%s missing from the bucket", k)
		}
	}
	if ups := srv.IncompleteUploads(t, "e2e", ""); len(ups) != 0 {
		t.Errorf("incomplete uploads left: %v", ups)
	}
	rep, err := pipeline.Verify(ctx, e.store, arc, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.Files != len(jobs) || rep.Days != 1 {
		t.Errorf("verify of the bucket: %+v", rep)
	}
	// A file changed in the bucket is found.
	name := jobs[0].Key.RelPath()
	if err := arc.Put(ctx, name, []byte("PAR1 not a parquet file PAR1")); err != nil {
		t.Fatal(err)
	}
	rep, err = pipeline.Verify(ctx, e.store, arc, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].Message, "SHA-256") || !strings.HasPrefix(rep.Problems[0].File, "s3://e2e/team/spx/") {
		t.Errorf("verify after damaging %s: %+v", name, rep.Problems)
	}
	// The fix verify suggests, spx retry <date>, rewrites it in the bucket
	// (the coordinator finds damaged files over S3, as verify does).
	res, err := e.client.Retry(ctx, coordinator.RetryRequest{Dates: d})
	if err != nil || res.Jobs != 1 {
		t.Fatalf("retry of the damaged day: %+v %v", res, err)
	}
	if p := e.waitDays(t, d)[0]; p.Day.Status != spx.DaySuccess {
		t.Fatalf("after retry: %s (%v)", p.Day.Status, p.Errors)
	}
	rep, err = pipeline.Verify(ctx, e.store, arc, 0, 0)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify of the bucket after retry: %+v %v", rep.Problems, err)
	}
	if ups := srv.IncompleteUploads(t, "e2e", ""); len(ups) != 0 {
		t.Errorf("incomplete uploads left after the retry: %v", ups)
	}
}

// Credentials that S3 refuses once the pipeline runs (a key revoked
// mid-run; the start-up check is bypassed by handing the store in) fail
// the jobs for good with the reason, the day is not complete, nothing is
// marked written, and the bucket stays empty.
func TestS3RefusedMidRun(t *testing.T) {
	srv := s3test.Shared(t)
	srv.MakeBucket(t, "revoked")
	cfg := config.Default()
	cfg.OutputDir = "s3://revoked/spx"
	cfg.S3Endpoint, cfg.S3AccessKeyID, cfg.S3SecretAccessKey = srv.Endpoint, s3test.AccessKey, "revoked-secret-0123456789"
	cfg.TempDir = t.TempDir()
	arc, err := pipeline.OpenArchive(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, envOptions{api: "v3", sim: terminalsim.Config{Seed: 7, Concurrency: 2, MaxExpirations: 2, MaxStrikes: 6},
		archive: arc, config: func(c *config.Config) { c.OutputDir = cfg.OutputDir }})
	ctx := context.Background()
	if _, err := e.client.Enqueue(ctx, coordinator.EnqueueRequest{Dates: days[:1]}); err != nil {
		t.Fatal(err)
	}
	for _, p := range e.waitDays(t, days[:1]) {
		if p.Day.Status == spx.DaySuccess {
			t.Errorf("%s: success although nothing could be written", p.Day.Date)
		}
	}
	jobs, err := e.store.Jobs(ctx, spx.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Outcome != spx.JobFailed || !strings.Contains(j.LastError, "S3 refused the credentials") || strings.Contains(j.LastError, "revoked-secret") {
			t.Errorf("%s: %s %q, want failed with the refusal (and no secret)", j.Key, j.Outcome, j.LastError)
		}
	}
	if objs := srv.Objects(t, "revoked", ""); len(objs) != 0 {
		t.Errorf("objects in the bucket: %v", objs)
	}
}
