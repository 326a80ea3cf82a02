package graphsim_test

import (
	"net/http"
	"testing"

	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// TestSynchronizationJobs: the jobs and the schema need
// Synchronization.Read.All (403 Authorization_RequestDenied without it),
// pausing needs Synchronization.ReadWrite.All, unknown ids are 404.
func TestSynchronizationJobs(t *testing.T) {
	f := newFixture(t, graphsim.Options{})
	schema := map[string]any{"id": "s", "synchronizationRules": []any{map[string]any{"name": "USER_OUTBOUND_USER"}}}
	jobID, err := f.sim.AddSynchronizationJob(f.spID, graphsim.SynchronizationJob{TemplateID: "gotomeeting", Interval: "PT40M", LastRun: "Succeeded", Schema: schema})
	must(t, err)
	f.login()
	jobs := "/servicePrincipals/" + f.spID + "/synchronization/jobs"
	if r := f.get(jobs); r.status != http.StatusForbidden || r.errorCode() != "Authorization_RequestDenied" {
		t.Fatalf("jobs without the permission: %d %v", r.status, r.body)
	}
	must(t, f.sim.GrantPermission(f.client, "Synchronization.Read.All"))
	f.login()
	r := f.get(jobs)
	if r.status != http.StatusOK || len(r.value()) != 1 || r.value()[0]["id"] != jobID || r.value()[0]["templateId"] != "gotomeeting" {
		t.Fatalf("jobs: %d %v", r.status, r.body)
	}
	status := r.value()[0]["status"].(map[string]any)
	if status["code"] != "Active" || status["lastExecution"].(map[string]any)["state"] != "Succeeded" {
		t.Errorf("status %v", status)
	}
	if r := f.get(jobs + "/" + jobID + "/schema"); r.status != http.StatusOK || r.body["id"] != "s" {
		t.Errorf("schema: %d %v", r.status, r.body)
	}
	if r := f.get(jobs + "/nope/schema"); r.status != http.StatusNotFound {
		t.Errorf("unknown job: %d", r.status)
	}
	if r := f.get("/servicePrincipals/nope/synchronization/jobs"); r.status != http.StatusNotFound {
		t.Errorf("unknown service principal: %d", r.status)
	}
	if r := f.do(http.MethodPost, jobs+"/"+jobID+"/pause", nil); r.status != http.StatusForbidden {
		t.Errorf("pause with read only: %d", r.status)
	}
	must(t, f.sim.GrantPermission(f.client, "Synchronization.ReadWrite.All"))
	f.login()
	if r := f.do(http.MethodPost, jobs+"/"+jobID+"/pause", nil); r.status != http.StatusNoContent || f.sim.SynchronizationJobCode(f.spID, jobID) != "Paused" {
		t.Errorf("pause: %d, code %q", r.status, f.sim.SynchronizationJobCode(f.spID, jobID))
	}
}
