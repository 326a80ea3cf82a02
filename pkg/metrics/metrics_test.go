package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

func TestTransportCountsEveryRequestByAPIAndStatus(t *testing.T) {
	codes := []int{200, 429, 200, 503}
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(codes[i%len(codes)])
		i++
	}))
	defer srv.Close()
	m := New("v1")
	client := &http.Client{Transport: m.Transport("goto", nil)}
	for range codes {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if got := m.Calls()["goto"]; got != 4 {
		t.Errorf("calls = %d, want 4", got)
	}
	body := scrape(t, m)
	for _, want := range []string{`g2msync_api_requests_total{api="goto",code="200"} 2`, `g2msync_api_requests_total{api="goto",code="429"} 1`,
		`g2msync_api_throttled_total{api="goto"} 1`, `g2msync_build_info{version="v1"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestObserveCycle(t *testing.T) {
	m := New("v1")
	end := time.Unix(1_800_000_000, 0)
	m.ObserveCycle(CycleResult{Outcome: "partial", Duration: 3 * time.Second, End: end, Applied: map[string]int{"create": 5},
		Failed: map[string]int{"update": 1}, OwnedActive: 40, OwnedDisabled: 2, Staged: 0, Failing: 1, Quarantined: 1, GoToPace: 4.75})
	m.ObserveCycle(CycleResult{Outcome: "failed", End: end.Add(time.Hour)}) // no pace known: the gauge keeps 4.75
	body := scrape(t, m)
	for _, want := range []string{`g2msync_cycles_total{outcome="partial"} 1`, `g2msync_cycles_total{outcome="failed"} 1`,
		`g2msync_changes_total{kind="create",result="success"} 5`, `g2msync_changes_total{kind="update",result="failure"} 1`,
		`g2msync_owned_accounts{status="active"} 40`, `g2msync_failing_accounts 1`, `g2msync_quarantined_accounts 1`,
		`g2msync_last_success_timestamp_seconds 1.8e+09`, `g2msync_api_pace_requests_per_second{api="goto"} 4.75`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// Each cycle counts how it read the directory; the licences' seats are
// those of the last cycle that read them, kept by a cycle that did not.
func TestObserveCycleReadModeAndSeats(t *testing.T) {
	m := New("v1")
	m.ObserveCycle(CycleResult{Outcome: "success", Read: "full: first read", Licenses: []License{{Key: "111", Seats: 10, Used: 7,
		Held: map[string]int{"managed_active": 5, "managed_suspended": 1, "unmanaged": 1}}}})
	m.ObserveCycle(CycleResult{Outcome: "success", Read: "delta: 3 changes"})
	m.ObserveCycle(CycleResult{Outcome: "success", Read: "full"})
	m.ObserveCycle(CycleResult{Outcome: "aborted"})
	body := scrape(t, m)
	for _, want := range []string{`g2msync_directory_reads_total{mode="full"} 2`, `g2msync_directory_reads_total{mode="delta"} 1`,
		`g2msync_license_seats{license="111"} 10`, `g2msync_license_seats_used{license="111"} 7`,
		`g2msync_license_seats_held{holder="managed_active",license="111"} 5`, `g2msync_license_seats_held{holder="managed_suspended",license="111"} 1`,
		`g2msync_license_seats_held{holder="unmanaged",license="111"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s\n%s", want, body)
		}
	}
}
