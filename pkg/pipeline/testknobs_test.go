package pipeline

import (
	"testing"
	"time"
)

func TestApplyTestKnobs(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		in      Options
		check   func(o Options) bool
		wantErr bool
	}{
		{name: "unset changes nothing", check: func(o Options) bool {
			return o.Topology.FetchAckWait == 0 && o.Policy.Base == 0 && o.FetchRetries == 0
		}},
		{name: "all set", env: map[string]string{"SPX_TEST_ACK_WAIT": "3s", "SPX_TEST_MAX_DELIVER": "4", "SPX_TEST_NAK_BASE": "200ms",
			"SPX_TEST_NAK_MAX": "1s", "SPX_TEST_RETRY_BASE": "50ms", "SPX_TEST_FETCH_RETRIES": "2", "SPX_TEST_IN_PROGRESS": "500ms"},
			check: func(o Options) bool {
				return o.Topology.FetchAckWait == 3*time.Second && o.Topology.WriteAckWait == 3*time.Second &&
					o.Topology.FetchMaxDeliver == 4 && o.Topology.WriteMaxDeliver == 4 && o.Policy.Base == 200*time.Millisecond &&
					o.Policy.Max == time.Second && o.RetryBase == 50*time.Millisecond && o.FetchRetries == 2 &&
					o.InProgressEvery == 500*time.Millisecond
			}},
		{name: "caller's values win", env: map[string]string{"SPX_TEST_ACK_WAIT": "3s", "SPX_TEST_FETCH_RETRIES": "2"},
			in: Options{FetchRetries: 7}, check: func(o Options) bool {
				return o.Topology.FetchAckWait == 3*time.Second && o.FetchRetries == 7
			}},
		{name: "bad duration", env: map[string]string{"SPX_TEST_ACK_WAIT": "soon"}, wantErr: true},
		{name: "bad number", env: map[string]string{"SPX_TEST_MAX_DELIVER": "-1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SPX_TEST_ACK_WAIT", "SPX_TEST_MAX_DELIVER", "SPX_TEST_NAK_BASE", "SPX_TEST_NAK_MAX",
				"SPX_TEST_RETRY_BASE", "SPX_TEST_FETCH_RETRIES", "SPX_TEST_IN_PROGRESS"} {
				t.Setenv(k, tt.env[k])
			}
			o, err := applyTestKnobs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}
