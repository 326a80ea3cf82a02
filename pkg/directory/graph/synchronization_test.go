package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
)

// TestSynchronizationReads: the jobs and the schema are read as Graph's
// JSON; a missing Synchronization.Read.All is a permission error naming
// it, an unknown job a not-found, and 429s are retried.
func TestSynchronizationReads(t *testing.T) {
	tn := newTenant(t, graphsim.Options{})
	schema := `{"id":"gotomeeting.x","synchronizationRules":[{"name":"USER_OUTBOUND_USER"}]}`
	jobID := tn.must1(tn.sim.AddSynchronizationJob(tn.spID, graphsim.SynchronizationJob{TemplateID: "gotomeeting", Schema: json.RawMessage(schema)}))
	src, err := graph.New(tn.config())
	tn.must(err)
	ctx := context.Background()

	_, err = src.SynchronizationJobs(ctx)
	var ge *graph.Error
	if !errors.Is(err, graph.ErrPermission) || !errors.As(err, &ge) || ge.Permission != "Synchronization.Read.All" ||
		!strings.Contains(err.Error(), "Synchronization.Read.All") {
		t.Fatalf("jobs without the permission: %v", err)
	}

	tn.must(tn.sim.GrantPermission(tn.client, "Synchronization.Read.All"))
	src, err = graph.New(tn.config()) // a new token carries the new role
	tn.must(err)
	tn.sim.ThrottleNext(2)
	jobs, err := src.SynchronizationJobs(ctx)
	if err != nil || !strings.Contains(string(jobs), jobID) {
		t.Fatalf("jobs: %s, %v", jobs, err)
	}
	got, err := src.SynchronizationSchema(ctx, jobID)
	if err != nil || string(got) != schema {
		t.Fatalf("schema: %s, %v", got, err)
	}
	if _, err := src.SynchronizationSchema(ctx, "../../../users"); err == nil || tn.sim.Calls("GET /users") != 0 {
		t.Errorf("a job id is one path segment, never a way elsewhere: %v", err)
	}
	if _, err := src.SynchronizationSchema(ctx, "nope"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	tn.must(tn.sim.InjectFault(graphsim.Fault{Route: "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema", Status: http.StatusTooManyRequests, RetryAfter: 1, Times: 10}))
	if _, err := src.SynchronizationSchema(ctx, jobID); !errors.Is(err, graph.ErrThrottled) {
		t.Errorf("schema under endless 429s: %v", err)
	}
}
