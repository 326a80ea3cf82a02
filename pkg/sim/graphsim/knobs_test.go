package graphsim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

func TestResourceUnitBudget(t *testing.T) {
	clk := newClock()
	f := newFixture(t, graphsim.Options{Now: clk.Now, RUBudget: 10})
	f.login()
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	members := "/groups/" + gid + "/members"
	// members costs 3, 2 with $select; 3+3+2+2 = 10 fits, the next does not.
	for i, p := range []string{members, members, members + "?$select=id", members + "?$select=id"} {
		r := f.get(p)
		if r.status != http.StatusOK {
			t.Fatalf("call %d: %d %v", i, r.status, r.body)
		}
		want := "3"
		if i >= 2 {
			want = "2"
		}
		if got := r.header.Get("x-ms-resource-unit"); got != want {
			t.Errorf("call %d: x-ms-resource-unit = %s, want %s", i, got, want)
		}
	}
	clk.Advance(4 * time.Second)
	r := f.get(members)
	if r.status != http.StatusTooManyRequests || r.errorCode() != "TooManyRequests" || r.header.Get("Retry-After") != "6" {
		t.Fatalf("over budget: %d Retry-After=%q %v", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r.header.Get("x-ms-throttle-scope") == "" || r.header.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" {
		t.Errorf("throttle headers: %v", r.header)
	}
	clk.Advance(6 * time.Second)
	if r := f.get(members); r.status != http.StatusOK {
		t.Fatalf("next window: %d", r.status)
	}
	if got := f.sim.Calls("GET /groups/{id}/members"); got != 6 {
		t.Errorf("calls = %d, want 6 (throttled calls count)", got)
	}
}

func TestThrottleStorm(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	f.sim.ThrottleNext(2)
	for i := range 2 {
		r := f.get("/servicePrincipals/" + f.spID)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
			t.Fatalf("storm call %d: %d %v", i, r.status, r.header)
		}
	}
	if r := f.get("/servicePrincipals/" + f.spID); r.status != http.StatusOK {
		t.Fatalf("after storm: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	gid, err := f.sim.AddGroup(graphsim.Group{DisplayName: "G"})
	must(t, err)
	must(t, f.sim.AddMembers(gid, f.addUsers("u", 30)...))
	route := "GET /groups/{id}/members"
	must(t, f.sim.InjectFault(graphsim.Fault{Route: route, Nth: 3, Status: http.StatusInternalServerError}))
	must(t, f.sim.InjectFault(graphsim.Fault{PathContains: "skiptoken", Nth: 2, Times: 2, Status: http.StatusServiceUnavailable, RetryAfter: 2}))

	statuses := []int{}
	next := "/groups/" + gid + "/members?$top=10"
	for range 6 {
		r := f.get(next)
		statuses = append(statuses, r.status)
		if n, ok := r.body["@odata.nextLink"].(string); ok {
			next = n
		}
		if r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "2" {
			t.Errorf("503 without Retry-After: %v", r.header)
		}
	}
	// call 1 page 1; call 2 page 2 (first skiptoken match); call 3 is the
	// route's third: 500; calls 4 and 5 are skiptoken matches 2 and 3: 503;
	// call 6 gets page 3.
	want := []int{200, 200, 500, 503, 503, 200}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("statuses = %v, want %v", statuses, want)
		}
	}
	if f.sim.Calls(route) != 6 || f.sim.TotalCalls() != 7 {
		t.Errorf("counters %v, total %d; want 6 member calls, 7 in all", f.sim.Counters(), f.sim.TotalCalls())
	}
	f.sim.ClearFaults()

	// Truncated body: the client sees the connection drop mid-body.
	must(t, f.sim.InjectFault(graphsim.Fault{Route: route, Truncate: true}))
	req, _ := http.NewRequest(http.MethodGet, f.sim.GraphBaseURL()+"/groups/"+gid+"/members", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := f.http.Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatal("truncated body read without error")
	}

	// Hang: the request waits until the client gives up.
	must(t, f.sim.InjectFault(graphsim.Fault{Route: "GET /users/{id}", Hang: true}))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, f.sim.GraphBaseURL()+"/users/x", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	if _, err := f.http.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v, want deadline exceeded", err)
	}

	if err := f.sim.InjectFault(graphsim.Fault{Route: route}); err == nil {
		t.Error("a fault without an effect was accepted")
	}
	f.sim.ResetCounters()
	if f.sim.TotalCalls() != 0 || len(f.sim.Counters()) != 0 {
		t.Errorf("after reset: %v", f.sim.Counters())
	}
}

func TestCountersByRoute(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	f.login()
	f.get("/servicePrincipals/" + f.spID)
	f.get("/servicePrincipals/" + f.spID + "/appRoleAssignedTo")
	want := map[string]int{
		"POST /token":                                   1,
		"GET /servicePrincipals/{id}":                   1,
		"GET /servicePrincipals/{id}/appRoleAssignedTo": 1,
	}
	got := f.sim.Counters()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if f.sim.TotalCalls() != 3 || f.sim.GraphCalls() != 2 {
		t.Errorf("total %d, graph %d; want 3, 2", f.sim.TotalCalls(), f.sim.GraphCalls())
	}
}
