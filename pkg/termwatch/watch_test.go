package termwatch

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spx-archive/spx/pkg/spx"
	"github.com/spx-archive/spx/pkg/terminalsim"
	"github.com/spx-archive/spx/pkg/thetadata"
)

// freeAddr returns a loopback address nothing listens on yet.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts a simulated terminal of one generation on addr.
func serve(t *testing.T, addr, gen string, f terminalsim.Faults) (*terminalsim.Sim, func()) {
	t.Helper()
	sim := terminalsim.New(terminalsim.Config{Seed: 7, MaxExpirations: 2, MaxStrikes: 4, Faults: f})
	v3, v2 := addr, ""
	if gen == "v2" {
		v3, v2 = "", addr
	}
	var stop func()
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, _, stop, err = sim.Listen(v3, v2); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return sim, stop
}

func newWatcher(addr string) *Watcher {
	o := thetadata.Options{BaseURL: "http://" + addr, API: "auto", ConnectTimeout: time.Second, HeaderTimeout: 5 * time.Second}
	return New(Config{Every: 50 * time.Millisecond, Dial: func(ctx context.Context) (*thetadata.Client, error) { return thetadata.New(ctx, o) }})
}

// A call made while no terminal answers waits; it returns the terminal's
// answer once one starts, and the generation is probed again after a loss:
// a v2 terminal replaced by a v3 one on the same address is used as v3.
func TestWaitsAndReprobesGeneration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := freeAddr(t)
	w := newWatcher(addr)
	go func() { _ = w.Run(ctx) }()

	date, exp := spx.NewDate(2024, 3, 14), spx.NewDate(2024, 3, 15)
	type answer struct {
		rows int
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		rs, err := w.History(ctx, spx.HistoryRequest{Dataset: spx.EOD, Root: "SPXW", Date: date, Expiration: exp})
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer rs.Close()
		n := 0
		for rs.Next() {
			n++
		}
		got <- answer{n, rs.Err()}
	}()
	for w.Status().State != spx.TerminalDown {
		time.Sleep(10 * time.Millisecond)
	}
	if st := w.Status(); !strings.Contains(st.LastError, addr) {
		t.Errorf("down without saying where it looked: %+v", st)
	}
	select {
	case a := <-got:
		t.Fatalf("History returned while no terminal answered: %+v", a)
	case <-time.After(300 * time.Millisecond):
	}

	sim, stop := serve(t, addr, "v2", terminalsim.Faults{})
	a := <-got
	if a.err != nil || int64(a.rows) != sim.ExpectedRows(spx.EOD, "SPXW", date, exp) || a.rows == 0 {
		t.Fatalf("History after the terminal started: %d rows, %v; want %d", a.rows, a.err, sim.ExpectedRows(spx.EOD, "SPXW", date, exp))
	}
	if st := w.Status(); st.State != spx.TerminalUp || st.API != "v2" {
		t.Fatalf("status %+v, want up v2", st)
	}

	stop()
	for w.Status().State == spx.TerminalUp {
		time.Sleep(10 * time.Millisecond)
	}
	_, stop = serve(t, addr, "v3", terminalsim.Faults{})
	defer stop()
	c, err := w.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Generation() != "v3" || w.Status().API != "v3" {
		t.Errorf("after the v3 terminal replaced the v2 one: client %s, status %+v", c.Generation(), w.Status())
	}
	if _, err := w.Expirations(ctx, "SPXW"); err != nil {
		t.Errorf("Expirations on the v3 terminal: %v", err)
	}
}

// The mdds status words map onto the states; planning waits until the
// terminal reconnects to ThetaData.
func TestStatesFromMdds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := freeAddr(t)
	sim, stop := serve(t, addr, "v3", terminalsim.Faults{Disconnect: time.Hour})
	defer stop()
	w := newWatcher(addr)
	if st := w.Check(ctx); st.State != spx.TerminalDisconnected || st.Mdds != "DISCONNECTED" || st.API != "v3" {
		t.Fatalf("disconnected terminal: %+v", st)
	}
	go func() { _ = w.Run(ctx) }()
	got := make(chan error, 1)
	go func() {
		_, err := w.Contracts(ctx, spx.NewDate(2024, 3, 14), []string{"SPXW"})
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Contracts returned while the terminal was disconnected: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	sim.SetFaults(terminalsim.Faults{StartupPhase: time.Hour})
	for w.Status().State != spx.TerminalStarting {
		time.Sleep(10 * time.Millisecond)
	}
	sim.SetFaults(terminalsim.Faults{})
	if err := <-got; err != nil {
		t.Fatalf("Contracts once connected: %v", err)
	}
	if st := w.Status(); st.State != spx.TerminalUp || st.Mdds != "CONNECTED" || st.Since.IsZero() {
		t.Errorf("connected terminal: %+v", st)
	}
}

// A request the terminal answers with an error while it is up is returned
// as it is: the fetcher's policy decides, the watcher does not retry it.
func TestErrorsWhileUpAreReturned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := freeAddr(t)
	_, stop := serve(t, addr, "v3", terminalsim.Faults{})
	defer stop()
	w := newWatcher(addr)
	if st := w.Check(ctx); st.State != spx.TerminalUp {
		t.Fatalf("state %+v", st)
	}
	// An expiration that never existed: NO_DATA, at once.
	_, err := w.History(ctx, spx.HistoryRequest{Dataset: spx.EOD, Root: "SPXW", Date: spx.NewDate(2024, 3, 14), Expiration: spx.NewDate(2030, 1, 1)})
	if spx.ClassOf(err) != spx.ClassEmpty {
		t.Errorf("History of a missing expiration: %v (class %s), want NO_DATA", err, spx.ClassOf(err))
	}
}

// Config.Lost hears of each outage once, as it begins: a terminal that is
// not there when spx starts, and one that goes away after being up; not
// every check of the same outage, nor a terminal that answers.
func TestLostOncePerOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := freeAddr(t)
	var lost []spx.TerminalStatus
	o := thetadata.Options{BaseURL: "http://" + addr, API: "v3", ConnectTimeout: time.Second, HeaderTimeout: 5 * time.Second}
	w := New(Config{Dial: func(ctx context.Context) (*thetadata.Client, error) { return thetadata.New(ctx, o) },
		Lost: func(_ context.Context, st spx.TerminalStatus) { lost = append(lost, st) }})

	w.Check(ctx)
	w.Check(ctx)
	if len(lost) != 1 || lost[0].State != spx.TerminalDown || !strings.Contains(lost[0].LastError, addr) {
		t.Fatalf("after two checks of an absent terminal, Lost heard %+v; want one outage, down, naming %s", lost, addr)
	}
	_, stop := serve(t, addr, "v3", terminalsim.Faults{})
	if st := w.Check(ctx); st.State != spx.TerminalUp {
		t.Fatalf("terminal started: %+v", st)
	}
	stop()
	w.Check(ctx)
	w.Check(ctx)
	if len(lost) != 2 || lost[1].State != spx.TerminalDown {
		t.Fatalf("after the terminal went away, Lost heard %+v; want a second outage", lost)
	}
}
