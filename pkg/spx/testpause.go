package spx

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// testPausePoints is the set of names in SPX_TEST_PAUSE, read once.
var testPausePoints = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, p := range strings.Split(os.Getenv("SPX_TEST_PAUSE"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			set[p] = true
		}
	}
	return set
})

// PauseForTest is a test-only hook for the fault suite (test/faults): when
// the environment variable SPX_TEST_PAUSE lists point (comma-separated), it
// prints "spx-test-pause: <point> pid=<pid>" to stderr and sleeps for an
// hour, so a test can kill -9 the process at exactly that point. Without
// the variable it does nothing. Points: fetcher.mid_stream (rows of a
// download are staged, the body is not finished), writer.before_rename (the
// .tmp Parquet file is complete and synced, not yet renamed),
// writer.before_ack (the file is in place, the written event and the ack
// are not sent yet), writer.mid_upload (an s3:// archive: the first part
// of a multipart upload is stored, or half of a single PUT's body is sent;
// the object is not complete), coordinator.before_publish (planning a
// day: a job after the day's first is recorded queued, its message not yet
// published, the day's later jobs not recorded).
func PauseForTest(point string) {
	if !testPausePoints()[point] {
		return
	}
	fmt.Fprintf(os.Stderr, "spx-test-pause: %s pid=%d\n", point, os.Getpid())
	time.Sleep(time.Hour)
}
