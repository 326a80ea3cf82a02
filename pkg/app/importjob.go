package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/entrajob"
)

// EntraJobs reads Entra's own provisioning jobs of the enterprise app, as
// Graph's JSON (pkg/directory/graph has it). It needs the optional Graph
// permission Synchronization.Read.All.
type EntraJobs interface {
	SynchronizationJobs(ctx context.Context) ([]byte, error)
	SynchronizationSchema(ctx context.Context, jobID string) ([]byte, error)
}

// ImportRequest says what to import.
type ImportRequest struct {
	// Schema is a schema file's content (the portal's schema editor
	// downloads it); nil reads the job and its schema from Graph.
	Schema []byte
	// File names the schema file, for the written header.
	File string
	// JobID picks a job when the app has several; "" takes its only one.
	JobID string
}

// Import is an imported configuration and what became of each part of the job.
type Import struct {
	// Config is the whole configuration to write.
	Config []byte
	// Result lists the translation, and what was not carried over.
	Result *entrajob.Result
	// Job is the job read from Graph; nil for a schema file.
	Job *entrajob.Job
	App directory.App
}

// ImportEntraJob reads Entra's provisioning job of the enterprise app (or
// the schema in req) and writes a g2msync configuration from it: the
// connection settings of this Service's configuration, one roles entry per
// app role with licences to fill in, and the job's mappings, matching,
// scoping filters and policy. It writes no file and changes nothing.
func (s *Service) ImportEntraJob(ctx context.Context, req ImportRequest) (*Import, error) {
	if s.rt == nil {
		return nil, errNoRuntime
	}
	app, err := s.rt.dir.App(ctx)
	if err != nil {
		return nil, err
	}
	imp := &Import{App: app}
	data := req.Schema
	if data == nil {
		if imp.Job, data, err = s.readEntraJob(ctx, req.JobID); err != nil {
			return nil, err
		}
	}
	schema, err := entrajob.ParseSchema(data)
	if err != nil {
		return nil, err
	}
	if imp.Result, err = entrajob.Translate(schema); err != nil {
		return nil, err
	}
	imp.Config, err = entrajob.Render(imp.Result, s.rt.cfg, app, entrajob.Origin{Job: imp.Job, File: req.File,
		SchemaID: schema.ID, SchemaVersion: schema.Version, When: s.now().UTC().Format("2006-01-02 15:04 UTC")})
	return imp, err
}

// readEntraJob reads the app's provisioning jobs, picks one, and reads its schema.
func (s *Service) readEntraJob(ctx context.Context, id string) (*entrajob.Job, []byte, error) {
	jr, ok := s.rt.dir.(EntraJobs)
	if !ok {
		return nil, nil, errors.New("this directory cannot read Entra's provisioning jobs; import from a schema file")
	}
	raw, err := jr.SynchronizationJobs(ctx)
	if err != nil {
		return nil, nil, err
	}
	jobs, err := entrajob.ParseJobs(raw)
	if err != nil {
		return nil, nil, err
	}
	var job *entrajob.Job
	switch {
	case id != "":
		for i := range jobs {
			if jobs[i].ID == id {
				job = &jobs[i]
			}
		}
		if job == nil {
			return nil, nil, fmt.Errorf("the enterprise app has no provisioning job %q; its jobs: %s", id, jobList(jobs))
		}
	case len(jobs) == 0:
		return nil, nil, errors.New("the enterprise app has no provisioning job to import; import a schema file instead")
	case len(jobs) > 1:
		return nil, nil, fmt.Errorf("the enterprise app has %d provisioning jobs; choose one: %s", len(jobs), jobList(jobs))
	default:
		job = &jobs[0]
	}
	schema, err := jr.SynchronizationSchema(ctx, job.ID)
	return job, schema, err
}

func jobList(jobs []entrajob.Job) string {
	var out []string
	for _, j := range jobs {
		out = append(out, fmt.Sprintf("%q (template %q)", j.ID, j.TemplateID))
	}
	return strings.Join(out, ", ")
}
