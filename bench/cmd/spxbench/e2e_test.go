package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spx-archive/spx/pkg/spx"
)

func TestListPairs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v3/option/list/contracts/quote" || r.URL.Query().Get("date") != "20240315" {
			http.Error(w, "bad request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		if r.URL.Query().Get("symbol") == "" {
			http.Error(w, "no symbol", 473)
			return
		}
		w.Write([]byte("symbol,expiration,strike,right\nSPXW,2024-03-15,5000.000,CALL\nSPXW,2024-03-15,5000.000,PUT\nSPXW,2024-03-18,5000.000,CALL\nSPX,2024-04-19,5000.000,PUT\n"))
	}))
	defer srv.Close()
	pairs, counts, err := listPairs(context.Background(), srv.URL, spx.NewDate(2024, 3, 15))
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"SPXW", "20240315"}, {"SPXW", "20240318"}, {"SPX", "20240419"}}
	if len(pairs) != len(want) {
		t.Fatalf("pairs %v, want %v", pairs, want)
	}
	for i := range want {
		if pairs[i] != want[i] {
			t.Fatalf("pairs %v, want %v", pairs, want)
		}
	}
	if counts[want[0]] != 2 || counts[want[2]] != 1 {
		t.Fatalf("counts %v", counts)
	}
	if _, _, err := listPairs(context.Background(), srv.URL, spx.NewDate(2024, 3, 16)); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("bad answer: got %v", err)
	}
}
