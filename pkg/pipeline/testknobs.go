package pipeline

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Test knobs: environment variables that shorten the redelivery timings so
// the fault suite (test/faults), which runs the real binaries as separate
// processes, finishes in seconds instead of minutes. They only fill fields
// the caller left zero; nothing sets them in production.
//
//	SPX_TEST_ACK_WAIT      AckWait of both work consumers (e.g. 3s)
//	SPX_TEST_MAX_DELIVER   MaxDeliver of both work consumers
//	SPX_TEST_NAK_BASE      first NakWithDelay back-off (doubles per delivery)
//	SPX_TEST_NAK_MAX       longest NakWithDelay back-off
//	SPX_TEST_RETRY_BASE    first in-process retry back-off
//	SPX_TEST_FETCH_RETRIES in-process retries of a transient fetch failure
//	SPX_TEST_IN_PROGRESS   InProgress heartbeat (keep below the AckWait)
//	SPX_TEST_S3_PART_SIZE  multipart part size of an s3:// archive (archive.go)
//	SPX_TEST_CLOCK         the coordinator's clock: RFC 3339 start, optionally
//	                       *N to run N times faster than real time
//	                       (2024-03-01T15:59:00-05:00*3600)
func applyTestKnobs(o Options) (Options, error) {
	if v := os.Getenv("SPX_TEST_CLOCK"); v != "" && o.Clock == nil {
		c, err := parseTestClock(v)
		if err != nil {
			return o, err
		}
		o.Clock = c
	}
	dur := func(name string, dst *time.Duration) error {
		v := os.Getenv(name)
		if v == "" || *dst != 0 {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("invalid %s=%q: give a positive duration such as 3s, or unset it", name, v)
		}
		*dst = d
		return nil
	}
	num := func(name string, set func(n int)) error {
		v := os.Getenv(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid %s=%q: give a positive number, or unset it", name, v)
		}
		set(n)
		return nil
	}
	t := &o.Topology
	for _, e := range []error{
		dur("SPX_TEST_ACK_WAIT", &t.FetchAckWait),
		dur("SPX_TEST_ACK_WAIT", &t.WriteAckWait),
		dur("SPX_TEST_NAK_BASE", &o.Policy.Base),
		dur("SPX_TEST_NAK_MAX", &o.Policy.Max),
		dur("SPX_TEST_RETRY_BASE", &o.RetryBase),
		dur("SPX_TEST_IN_PROGRESS", &o.InProgressEvery),
		num("SPX_TEST_MAX_DELIVER", func(n int) {
			if t.FetchMaxDeliver == 0 {
				t.FetchMaxDeliver = n
			}
			if t.WriteMaxDeliver == 0 {
				t.WriteMaxDeliver = n
			}
		}),
		num("SPX_TEST_FETCH_RETRIES", func(n int) {
			if o.FetchRetries == 0 {
				o.FetchRetries = uint64(n)
			}
		}),
	} {
		if e != nil {
			return o, e
		}
	}
	return o, nil
}

// scaledClock starts at a given instant and runs speed times faster than
// the wall clock (SPX_TEST_CLOCK).
type scaledClock struct {
	start, real time.Time
	speed       float64
}

func parseTestClock(v string) (*scaledClock, error) {
	at, speedText, scaled := strings.Cut(v, "*")
	start, err := time.Parse(time.RFC3339, at)
	speed := 1.0
	if err == nil && scaled {
		speed, err = strconv.ParseFloat(speedText, 64)
		if err == nil && speed <= 0 {
			err = errors.New("speed must be positive")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("invalid SPX_TEST_CLOCK=%q (%v): give an RFC 3339 time, optionally *speed, or unset it", v, err)
	}
	return &scaledClock{start: start, real: time.Now(), speed: speed}, nil
}

func (c *scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real)) * c.speed))
}

func (c *scaledClock) After(d time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/c.speed), func() { out <- c.Now() })
	return out
}
