package graph

import (
	"context"
	"fmt"
	"net/url"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// permSynchronization reads provisioning jobs and their schemas; g2msync
// needs it only to import Entra's job (`g2msync import entra-job`).
const permSynchronization = "Synchronization.Read.All"

// SynchronizationJobs returns the reply of GET
// /servicePrincipals/{id}/synchronization/jobs: the enterprise app's
// provisioning jobs, as Graph's JSON, for pkg/entrajob to read.
func (s *Source) SynchronizationJobs(ctx context.Context) ([]byte, error) {
	sp, err := s.servicePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	return s.getBytes(ctx, call{op: "list the provisioning jobs of service principal " + sp, permission: permSynchronization,
		notFound: "no enterprise application has this object id in tenant " + s.cfg.TenantID},
		"/servicePrincipals/"+url.PathEscape(sp)+"/synchronization/jobs")
}

// SynchronizationSchema returns the reply of GET
// /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema.
func (s *Source) SynchronizationSchema(ctx context.Context, jobID string) ([]byte, error) {
	sp, err := s.servicePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	return s.getBytes(ctx, call{op: fmt.Sprintf("read the schema of provisioning job %q", jobID), permission: permSynchronization,
		notFound: "the enterprise application has no provisioning job with this id; `g2msync import entra-job` without --job lists them"},
		"/servicePrincipals/"+url.PathEscape(sp)+"/synchronization/jobs/"+url.PathEscape(jobID)+"/schema")
}

// servicePrincipal is the enterprise app's object id: configured, or
// found from its app id.
func (s *Source) servicePrincipal(ctx context.Context) (string, error) {
	if s.cfg.ServicePrincipalID != "" {
		return s.cfg.ServicePrincipalID, nil
	}
	app, err := s.readApp(ctx)
	return app.ID, err
}

func (s *Source) getBytes(ctx context.Context, c call, path string) ([]byte, error) {
	u, err := url.Parse(s.base + path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.op, err)
	}
	req := abs.NewRequestInformation()
	req.Method = abs.GET
	req.SetUri(*u)
	req.Headers.Add("Accept", "application/json")
	return s.sendBytes(ctx, c, req)
}
