package thetadata

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

// A 200 that ends cleanly before its first byte fails the job (it is not a
// cut connection); malformed input carries a sample for the error log.
func TestBadAnswersArePermanentWithSample(t *testing.T) {
	v3 := "symbol,expiration,strike,right,timestamp,bid,ask,delta,theta,vega,rho,epsilon,lambda,implied_vol,iv_error,underlying_timestamp,underlying_price\n"
	row := "SPXW,2024-03-15,4850.000,CALL,2024-03-15T09:30:00.000,74.1,75,0.5198,-3.6141,3.3533,0.7369,-0.7594,33.7933,0.2138,0,2024-03-15T09:30:00.000,"
	tests := []struct {
		name, body, sample string
		is                 error
	}{
		{"empty body", "", "", ErrEmptyBody},
		{"NaN value", v3 + row + "NaN\n", "NaN", nil},
		{"unknown column", strings.Replace(v3, "underlying_price", "unexpected_column", 1) + row + "5000\n", "unexpected_column", nil},
		{"extra field", v3 + row + "5000,1\n", "5000,1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTerminal(t, map[string]http.HandlerFunc{"/": text(200, tt.body)})
			c := newClient(t, srv.URL, "v3")
			s, err := c.History(context.Background(), greeksReq())
			if err == nil {
				_, _, err = drain(t, s, spx.Greeks)
			}
			if spx.ClassOf(err) != spx.ClassPermanent || tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err %v (class %s): want permanent", err, spx.ClassOf(err))
			}
			var d interface{ Detail() string }
			if tt.sample != "" && (!errors.As(err, &d) || !strings.Contains(d.Detail(), tt.sample)) {
				t.Errorf("err %v: want a Detail() sample containing %q", err, tt.sample)
			}
		})
	}
}
