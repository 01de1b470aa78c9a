package proc

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the measured child: with SPXBENCH_PROC_ALLOC
// set it touches that many MiB, holds them briefly and exits.
func TestMain(m *testing.M) {
	if v := os.Getenv("SPXBENCH_PROC_ALLOC"); v != "" {
		n, _ := strconv.Atoi(v)
		b := make([]byte, n<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(3 * PollInterval)
		if os.Getenv("SPXBENCH_PROC_FAIL") != "" {
			os.Stderr.WriteString("child failed on purpose\n")
			os.Exit(3)
		}
		os.Exit(int(b[0]) - 1)
	}
	os.Exit(m.Run())
}

func TestRunMeasuresPeakRSS(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, mib := range []int64{16, 160} {
		r, err := Run(context.Background(), []string{"SPXBENCH_PROC_ALLOC=" + strconv.FormatInt(mib, 10)}, self)
		if err != nil {
			t.Fatal(err)
		}
		if r.PeakRSS < mib<<20 || r.PeakRSS > (mib+200)<<20 {
			t.Errorf("%d MiB child: peak RSS %d MiB", mib, r.PeakRSS>>20)
		}
		if r.Wall < 3*PollInterval || r.MaxRSS <= 0 {
			t.Errorf("%d MiB child: wall %v, ru_maxrss %d", mib, r.Wall, r.MaxRSS)
		}
	}
}

func TestRunFailure(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), []string{"SPXBENCH_PROC_ALLOC=1", "SPXBENCH_PROC_FAIL=1"}, self)
	if err == nil || !strings.Contains(err.Error(), "child failed on purpose") {
		t.Fatalf("got %v, want the child's stderr in the error", err)
	}
	if _, err := Run(context.Background(), nil, "/nonexistent/binary"); err == nil {
		t.Fatal("missing binary: no error")
	}
}

func TestReadHWM(t *testing.T) {
	p := t.TempDir() + "/status"
	os.WriteFile(p, []byte("Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1000 kB\n"), 0o644)
	if v, ok := readHWM(p); !ok || v != 2048*1024 {
		t.Fatalf("readHWM = %d, %v", v, ok)
	}
	if _, ok := readHWM(p + ".missing"); ok {
		t.Fatal("missing file read as ok")
	}
}
