package graphsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Application permissions of the synchronization API, least privileged
// first: reading jobs and schemas, and pausing a job.
var (
	permSyncRead  = []string{"Synchronization.Read.All", "Synchronization.ReadWrite.All"}
	permSyncWrite = []string{"Synchronization.ReadWrite.All"}
)

// SynchronizationJob is a provisioning job of a service principal, as
// Microsoft Graph's synchronizationJob shows it (GET
// /servicePrincipals/{id}/synchronization/jobs), with its schema.
type SynchronizationJob struct {
	ID         string // "" → "<templateId>.<random>"
	TemplateID string
	// Interval is the schedule's ISO 8601 duration, e.g. PT40M.
	Interval string
	// Code is the status: NotConfigured, NotRun, Active, Paused or Quarantine.
	Code string
	// LastRun is the last execution's state (Succeeded, Failed,
	// EntryLevelErrors), and when it began and ended.
	LastRun              string
	LastBegan, LastEnded time.Time
	// Schema is the synchronizationSchema, any value that marshals as
	// Graph's JSON (a map, or a json.RawMessage).
	Schema any
}

// AddSynchronizationJob gives a service principal a provisioning job and
// returns its id.
func (s *Server) AddSynchronizationJob(spID string, j SynchronizationJob) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.t.sps[spID]
	if sp == nil {
		return "", fmt.Errorf("graphsim: no service principal %s", spID)
	}
	if j.ID == "" {
		j.ID = j.TemplateID + "." + strings.ReplaceAll(newGUID(s.t.rng), "-", "")
	}
	if j.Code == "" {
		j.Code = "Active"
	}
	sp.jobs = append(sp.jobs, &j)
	return j.ID, nil
}

// SynchronizationJobCode returns a job's status code ("" if there is no such job).
func (s *Server) SynchronizationJobCode(spID, jobID string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if j := s.job(spID, jobID); j != nil {
		return j.Code
	}
	return ""
}

func (s *Server) job(spID, jobID string) *SynchronizationJob {
	sp := s.t.sps[spID]
	if sp == nil {
		return nil
	}
	for _, j := range sp.jobs {
		if j.ID == jobID {
			return j
		}
	}
	return nil
}

func (s *Server) matchSynchronization(r *http.Request, segs []string) route {
	sp := segs[1]
	switch {
	case len(segs) == 4:
		return s.method(r, http.MethodGet, route{key: "GET /servicePrincipals/{id}/synchronization/jobs", graph: true, cost: 1, perms: permSyncRead,
			handle: func(c *call) *resp { return s.handleJobs(c, sp) }})
	case len(segs) == 5:
		return s.method(r, http.MethodGet, route{key: "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}", graph: true, cost: 1, perms: permSyncRead,
			handle: func(c *call) *resp { return s.handleJob(c, sp, segs[4], "") }})
	case strings.EqualFold(segs[5], "schema"):
		return s.method(r, http.MethodGet, route{key: "GET /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema", graph: true, cost: 1, perms: permSyncRead,
			handle: func(c *call) *resp { return s.handleJob(c, sp, segs[4], "schema") }})
	case strings.EqualFold(segs[5], "pause"):
		return s.method(r, http.MethodPost, route{key: "POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/pause", graph: true, cost: 1, perms: permSyncWrite,
			handle: func(c *call) *resp { return s.handleJob(c, sp, segs[4], "pause") }})
	}
	return badSegment(r, segs[len(segs)-1])
}

func (s *Server) handleJobs(c *call, spID string) *resp {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp := s.t.sps[spID]
	if sp == nil {
		return notFound(c.r, spID)
	}
	jobs := make([]any, 0, len(sp.jobs))
	for _, j := range sp.jobs {
		jobs = append(jobs, jobJSON(j))
	}
	return jsonResp(http.StatusOK, map[string]any{
		"@odata.context": metadataContext(c.r, "servicePrincipals('"+spID+"')/synchronization/jobs", nil),
		"value":          jobs,
	})
}

func (s *Server) handleJob(c *call, spID, jobID, what string) *resp {
	if what == "pause" {
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	if s.t.sps[spID] == nil {
		return notFound(c.r, spID)
	}
	j := s.job(spID, jobID)
	if j == nil {
		return notFound(c.r, jobID)
	}
	switch what {
	case "pause":
		j.Code = "Paused"
		return &resp{status: http.StatusNoContent, header: http.Header{}}
	case "schema":
		raw, err := json.Marshal(j.Schema)
		if err != nil || j.Schema == nil {
			return graphError(c.r, http.StatusInternalServerError, "InternalServerError", "the job has no schema")
		}
		return &resp{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: raw}
	}
	return jsonResp(http.StatusOK, jobJSON(j))
}

func jobJSON(j *SynchronizationJob) map[string]any {
	state := "Active"
	if j.Code == "Paused" {
		state = "Paused"
	}
	out := map[string]any{
		"id": j.ID, "templateId": j.TemplateID,
		"schedule": map[string]any{"expiration": nil, "interval": j.Interval, "state": state},
		"status": map[string]any{
			"code": j.Code, "countSuccessiveCompleteFailures": 0, "escrowsPruned": false,
			"lastExecution": nil, "lastSuccessfulExecution": nil, "quarantine": nil, "troubleshootingUrl": nil,
		},
	}
	if j.LastRun != "" {
		exec := map[string]any{"activityIdentifier": j.ID + "-run", "state": j.LastRun,
			"timeBegan": j.LastBegan.UTC().Format(time.RFC3339), "timeEnded": j.LastEnded.UTC().Format(time.RFC3339), "error": nil}
		status := out["status"].(map[string]any)
		status["lastExecution"] = exec
		if j.LastRun == "Succeeded" {
			status["lastSuccessfulExecution"] = exec
		}
	}
	if j.Code == "Quarantine" {
		out["status"].(map[string]any)["quarantine"] = map[string]any{"reason": "EncounteredQuarantineException", "currentBegan": j.LastEnded.UTC().Format(time.RFC3339)}
	}
	return out
}
