package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/state"
)

// Provision now in the console is `g2msync provision USER` on the real
// application layer: the new hire is created, the cycle's entries are
// marked on demand, and a provision entry names the operator. While a
// cycle holds the state file it is refused at once, saying so.
func TestConsoleProvisionNow(t *testing.T) {
	aw := newActionWorld(t)
	hire, err := aw.w.NewHire("Sales")
	if err != nil {
		t.Fatal(err)
	}
	aw.signIn()
	form := url.Values{"user": {hire.UPN}, "csrf": {aw.csrf}, "back": {"/person?user=" + hire.UPN}}

	// A cycle of this process holds the file: refused at once.
	st, err := state.Open(aw.cfg.StatePath, state.Options{Binding: binding(aw.cfg)})
	if err != nil {
		t.Fatal(err)
	}
	aw.consoleSvc.Live.Set(st)
	start := time.Now()
	if w := aw.post("/person/provision", form); w.Code != http.StatusSeeOther {
		t.Fatalf("provision during a cycle: %d %s", w.Code, w.Body)
	}
	if took, f := time.Since(start), aw.flash(); !strings.Contains(f, "busy with a running cycle; try again") || took > time.Second {
		t.Errorf("provision during a cycle of this process: %q after %s; want busy, at once", f, took)
	}
	aw.consoleSvc.Live.Set(nil)
	// Another process holds it: refused after the page's short wait.
	aw.consoleSvc.SetPageWait(200 * time.Millisecond)
	start = time.Now()
	aw.post("/person/provision", form)
	if took, f := time.Since(start), aw.flash(); !strings.Contains(f, "busy with a running cycle; try again") || took > 5*time.Second {
		t.Errorf("provision while another process holds the file: %q after %s; want busy, soon", f, took)
	}
	st.Close()

	if w := aw.post("/person/provision", form); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/person?user="+hire.UPN {
		t.Fatalf("provision: %d %s", w.Code, w.Header().Get("Location"))
	}
	page := aw.get("/person?user=" + url.QueryEscape(hire.UPN))
	for _, want := range []string{"provisioned on demand: " + hire.UPN + ": create, applied", "What <code>g2msync provision</code> did", "owns GoTo account"} {
		if !strings.Contains(page, want) {
			t.Errorf("the person page after Provision now lacks %q:\n%s", want, page)
		}
	}
	aw.read(func(st *state.Store) {
		log, _ := st.Audit(state.AuditFilter{User: hire.ID})
		var actions []string
		for _, e := range log {
			actions = append(actions, e.Action)
			if e.Action == "provision" && (e.Operator != "alice" || e.Door != "console" || e.Result != state.ResultSuccess || !strings.Contains(e.Reason, "create, applied")) {
				t.Errorf("provision entry %+v", e)
			}
			if e.Action == "create" && !e.OnDemand {
				t.Errorf("create entry not marked on demand: %+v", e)
			}
		}
		if strings.Join(actions, ",") != "create,provision" {
			t.Errorf("log of the hire: %v, want create then provision", actions)
		}
	})
}

// get reads a console page as the signed-in operator.
func (aw *actionWorld) get(path string) string {
	aw.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://localhost:9464"+path, nil)
	if aw.cookie != nil {
		r.AddCookie(aw.cookie)
	}
	w := httptest.NewRecorder()
	aw.ui.ServeHTTP(w, r)
	return w.Body.String()
}

// Two operators press Provision now at once: one provisions, the other is
// told the state file is busy; neither waits for the other's GoTo calls.
func TestConsoleProvisionNowConcurrent(t *testing.T) {
	aw := newActionWorld(t)
	var hires [2]string
	for i := range hires {
		h, err := aw.w.NewHire("Sales")
		if err != nil {
			t.Fatal(err)
		}
		hires[i] = h.UPN
	}
	aw.signIn()
	aw.consoleSvc.SetPageWait(200 * time.Millisecond)
	aw.w.GoTo.SetLatency(400 * time.Millisecond) // each GoTo call takes a while
	var wg sync.WaitGroup
	for _, h := range hires {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aw.post("/person/provision", url.Values{"user": {h}, "csrf": {aw.csrf}, "back": {"/person"}})
		}()
	}
	wg.Wait()
	aw.w.GoTo.SetLatency(0)
	var provisions int
	aw.read(func(st *state.Store) {
		log, _ := st.Audit(state.AuditFilter{Action: "provision"})
		provisions = len(log)
	})
	created := 0
	for _, h := range hires {
		if _, ok := aw.w.GoTo.UserByEmail(h); ok {
			created++
		}
	}
	if provisions != 1 || created != 1 {
		t.Errorf("two provisions at once: %d provision entries, %d accounts created; want one of each (the other busy)", provisions, created)
	}
}
