package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/atomicfile"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/entrajob"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/view"
)

// ImportCommand writes a configuration from Entra's own provisioning job.
type ImportCommand struct{ m *Main }

const importUsage = `usage: g2msync import entra-job --output FILE [flags]

Reads the provisioning job of the enterprise app in Entra (GET
/servicePrincipals/{id}/synchronization/jobs and the job's schema; the
Graph permission Synchronization.Read.All, which g2msync needs for nothing
else), or the schema file the portal's schema editor downloads
(--from-file), and writes a whole g2msync configuration to FILE:

  - attribute mappings: the expression (or its Attribute/Constant/Function
    tree) in g2msync's expression language, defaultValue as default,
    flowType ObjectAddOnly as apply: on_create;
  - matching: the attributes with matchingPriority above 0, lowest first;
  - scope: the scoping filter groups (ORed) and their clauses (ANDed);
  - policy: from the object mapping's flow types (Add, Update, Delete);
  - the connection settings (Entra tenant, client and credential
    references, service principal, GoTo account and client, state path)
    of the configuration it runs with (--config);
  - one roles entry per app role of the enterprise app, with its licences
    to fill in: ` + "`g2msync check`" + ` prints them.

It prints the job's state (running, paused or quarantined, its last run)
and every part it could not carry over, with the reason; the file lists
them too. It refuses to overwrite FILE without --force, and writes it whole
or not at all. Pause Entra's job before g2msync's first sync
(docs/migrate-from-entra.md).`

// Run implements command.
func (c *ImportCommand) Run(ctx context.Context, args []string) error {
	if done, err := c.m.subcommand(args, "entra-job", importUsage, "import: say what to import: g2msync import entra-job"); done {
		return err
	}
	fs := c.m.newFlagSet("import entra-job", importUsage)
	cfgPath := c.m.configFlag(fs)
	output := fs.String("output", "", "the configuration file to write (required)")
	force := fs.Bool("force", false, "overwrite the output file if it exists")
	fromFile := fs.String("from-file", "", "read the schema from this file (the portal's schema editor downloads it) instead of Graph")
	jobID := fs.String("job", "", "the provisioning job to import, when the app has several")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *output == "" {
		return usageError{errors.New("import entra-job: --output FILE is required")}
	}
	if !*force {
		if _, err := os.Lstat(*output); err == nil {
			return usageError{fmt.Errorf("import entra-job: %s exists; choose another --output, or --force to replace it", *output)}
		}
	}
	cfg, _, err := c.m.loadSetupConfig(*cfgPath)
	if err != nil {
		return err
	}
	req := application.ImportRequest{JobID: *jobID}
	if *fromFile != "" {
		if req.Schema, err = readBounded(*fromFile, entrajob.MaxInput); err != nil {
			return usageError{err}
		}
		req.File = *fromFile
	}
	return c.m.importEntraJob(ctx, cfg, req, *output, *force, appOptions{})
}

// importEntraJob imports, writes output and prints what it did.
func (m *Main) importEntraJob(ctx context.Context, cfg *config.Config, req application.ImportRequest, output string, force bool, o appOptions) error {
	a, err := m.newApp(cfg, m.quietLogger(cfg, m.Stderr), metrics.New(version), o)
	if err != nil {
		return err
	}
	imp, err := a.svc.ImportEntraJob(ctx, req)
	if errors.Is(err, graph.ErrPermission) && req.Schema == nil {
		return fmt.Errorf("%w\nSynchronization.Read.All is optional: instead, download the job's schema (Enterprise applications > the app > "+
			"Provisioning > Edit attribute mappings > Show advanced options > Review your schema here > Download) and run "+
			"g2msync import entra-job --from-file schema.json --output %s", err, output)
	}
	if err != nil {
		return err
	}
	if err := writeConfig(output, imp.Config, force, m.Environ); err != nil {
		return err
	}
	m.reportImport(imp, output, cfg)
	return nil
}

// reportImport prints what the import did.
func (m *Main) reportImport(imp *application.Import, output string, cfg *config.Config) {
	out := m.Stdout
	r := imp.Result
	if j := imp.Job; j != nil {
		fmt.Fprintf(out, "Read Entra's provisioning job %s: %s.\n", view.Safe(j.ID), view.Safe(j.Summary()))
		if j.Running() {
			fmt.Fprintf(out, "WARN  Entra's job still provisions: pause it before g2msync's first sync, or two writers will fight:\n"+
				"      Enterprise applications > %s > Provisioning > Stop provisioning, or\n"+
				"      POST /servicePrincipals/%s/synchronization/jobs/%s/pause (Synchronization.ReadWrite.All)\n",
				view.Safe(imp.App.DisplayName), imp.App.ID, view.Safe(j.ID))
		}
	}
	fmt.Fprintf(out, "Wrote %s from the object mapping %s: %d fields, matching on %v, %d scoping filters, policy %s.\n",
		output, view.Safe(r.Object), len(r.Fields), r.Matching, len(r.Filters), r.Policy)
	if len(r.Unsupported) > 0 {
		fmt.Fprintf(out, "\nNot carried over (%d):\n", len(r.Unsupported))
		for _, it := range r.Unsupported {
			fmt.Fprintf(out, "  - %s: %s\n", view.Safe(it.Part), view.Safe(it.Reason))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(out, "\nCarried over with a difference (%d):\n", len(r.Notes))
		for _, it := range r.Notes {
			fmt.Fprintf(out, "  - %s: %s\n", view.Safe(it.Part), view.Safe(it.Reason))
		}
	}
	fmt.Fprintf(out, "\nNext: g2msync check --config %s prints the GoTo licences to fill in under roles", output)
	if cfg.GoTo.AccountKey == "" {
		fmt.Fprint(out, " and the GoTo accounts for goto.account_key")
	}
	fmt.Fprintf(out, "; then g2msync plan --config %s should adopt the accounts Entra's job made and create none.\n", output)
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; a synchronization schema is tens of kilobytes", path, limit)
	}
	return data, nil
}

// writeConfig writes data to path whole or not at all: to a temporary file
// beside it, synced, checked to load as a configuration waiting only for
// licences and the account key, then linked into place (which fails if
// path appeared meanwhile) or, with force, renamed over it.
func writeConfig(path string, data []byte, force bool, environ []string) error {
	if _, _, err := config.ParseSetup(data, environ); err != nil {
		return fmt.Errorf("the configuration written from Entra's job does not load, so it was not written: %w", err)
	}
	err := atomicfile.Write(path, force, func(w io.Writer) error { _, err := w.Write(data); return err })
	if errors.Is(err, atomicfile.ErrExists) {
		return usageError{fmt.Errorf("import entra-job: %s exists; choose another --output, or --force to replace it", path)}
	}
	return err
}
