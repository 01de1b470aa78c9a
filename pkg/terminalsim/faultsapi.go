package terminalsim

import (
	"fmt"
	"net/http"
	"time"
)

// serveFaults is POST /sim/faults?disconnect=30s&startup=15s: start a 474
// burst or a 571 start-up phase now, mid-run (error rates and body faults are kept; a burst not named ends).
// Tests use it to hit a run that is already planned.
func (s *Sim) serveFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST /sim/faults?disconnect=30s&startup=15s", http.StatusMethodNotAllowed)
		return
	}
	f, _, _ := s.currentFaults()
	for name, dst := range map[string]*time.Duration{"disconnect": &f.Disconnect, "startup": &f.StartupPhase} {
		v := r.URL.Query().Get(name)
		if v == "" {
			*dst = 0
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, fmt.Sprintf("invalid %s=%q: give a duration such as 30s", name, v), http.StatusBadRequest)
			return
		}
		*dst = d
	}
	s.SetFaults(f)
	w.WriteHeader(http.StatusNoContent)
}
