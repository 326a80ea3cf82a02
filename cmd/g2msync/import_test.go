package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

// setupYAML is the scenario's configuration as an administrator starts
// it: the example's placeholder licence and no GoTo account key.
func setupYAML(w *scenario.World, statePath string) string {
	y := w.ConfigYAML(statePath, "")
	y = strings.ReplaceAll(y, w.LicenseKey, "1111111111111111111")
	return strings.Replace(y, `  account_key: "`+w.AccountKey+`"`+"\n", "", 1)
}

// TestImportEntraJobAdoptsWhatTheJobMade is the migration end to end:
// import Entra's job from Graph with a configuration still being set up,
// check it (which lists the account and prints the roles block), sign in
// to GoTo, fill in what check printed, and plan: every account the old
// job made is adopted, none is created.
func TestImportEntraJobAdoptsWhatTheJobMade(t *testing.T) {
	opts := smallWorld()
	opts.Groups = []scenario.GroupSpec{{Name: "Sales", Size: 6}, {Name: "Support", Size: 4}}
	opts.EntraJob, opts.DefaultAccess = true, 2
	tw := newTestWorld(t, opts, "")
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.db")
	base, pending, err := config.ParseSetup([]byte(setupYAML(tw.w, statePath)), tw.m.Environ)
	if err != nil || len(pending) != 3 {
		t.Fatalf("the starting configuration: %v, pending %v", err, pending)
	}
	out := filepath.Join(dir, "g2msync.yaml")
	ctx := context.Background()
	roots := appOptions{roots: tw.w.CA.Pool()}
	if err := tw.m.importEntraJob(ctx, base, application.ImportRequest{}, out, false, roots); err != nil {
		t.Fatalf("import: %v\n%s", err, tw.stderr)
	}
	printed := tw.stdout.String()
	for _, want := range []string{"Read Entra's provisioning job " + tw.w.EntraJobID, `status "Active"`, "WARN  Entra's job still provisions",
		"/synchronization/jobs/" + tw.w.EntraJobID + "/pause", `attribute mapping "active"`, `attribute mapping "externalId"`,
		"matching on [userPrincipalName mail]", "2 scoping filters", "Next: g2msync check"} {
		if !strings.Contains(printed, want) {
			t.Errorf("import output lacks %q:\n%s", want, printed)
		}
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	// An existing file is never overwritten without --force, nor touched.
	if err := tw.m.importEntraJob(ctx, base, application.ImportRequest{}, out, false, roots); err == nil || tw.m.exit(err) != ExitUsage {
		t.Errorf("a second import over the file: %v", err)
	}
	if again, _ := os.ReadFile(out); string(again) != string(written) {
		t.Error("the refused import changed the file")
	}

	// check on the imported file: WARN for what waits, the accounts, the block.
	cfg, pending, err := config.LoadSetup(out, tw.m.Environ)
	if err != nil {
		t.Fatalf("the written configuration does not load: %v\n%s", err, written)
	}
	tw.stdout.Reset()
	err = tw.m.checkConnections(ctx, cfg, pending, roots, tw.m.checkConfig(cfg, pending))
	checked := tw.stdout.String()
	if err != nil || strings.Contains(checked, "FAIL") {
		t.Fatalf("check: %v\n%s", err, checked)
	}
	for _, want := range []string{"WARN  goto.account_key", "WARN  roles.User.licenses", "WARN  roles.Admin.licenses",
		"WARN  GoTo account", "administers: " + tw.w.AccountKey, "roles:\n", `"User":`, `"Admin":`,
		`# app role "User": id "` + tw.w.RoleUser + `", display name "User"`,
		`- "` + tw.w.LicenseKey + `" # "GoToMeeting Business": `, "The configuration is not complete"} {
		if !strings.Contains(checked, want) {
			t.Errorf("check output lacks %q:\n%s", want, checked)
		}
	}

	// login goto before the account key is known: the token goes to a
	// token-only file that the first sync takes over.
	setup := tw.appWith(cfg)
	err = setup.svc.LoginGoTo(ctx, application.Actor{Name: "admin", Door: application.DoorCLI}, func(ctx context.Context, gc *gotomeeting.Client, _ gotomeeting.Config) error {
		_, err := gc.ExchangePAT(ctx, tw.w.GoTo.IssuePAT())
		return err
	})
	if err != nil {
		t.Fatalf("login goto with the configuration being set up: %v", err)
	}

	// Fill in what check printed, and plan.
	filled := strings.ReplaceAll(string(written), "licenses: []", `licenses: ["`+tw.w.LicenseKey+`"]`)
	filled = strings.Replace(filled, `account_key: ""`, `account_key: "`+tw.w.AccountKey+`"`, 1)
	final, err := config.Parse([]byte(filled), tw.m.Environ)
	if err != nil {
		t.Fatalf("filled in, the configuration does not load: %v\n%s", err, filled)
	}
	rep, err := tw.cycle(tw.appWith(final), engine.Options{DryRun: true, InitialSync: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[plan.Kind]int{}
	for _, c := range rep.Result.Plan.Changes {
		kinds[c.Kind]++
	}
	want := 0
	for _, p := range tw.w.People {
		if tw.w.InEntraJobScope(p) {
			want++
		}
	}
	if kinds[plan.KindCreate] != 0 || kinds[plan.KindAdopt] != want || want == 0 {
		t.Errorf("plan: %v; want %d adoptions and no create (skips %d)", kinds, want, len(rep.Result.Plan.Skips))
	}
	if tw.w.GoTo.Writes() != 0 {
		t.Error("import, check or plan wrote to GoTo")
	}
}

// TestImportEntraJobWithoutPermission: without Synchronization.Read.All
// the import says it is optional and how to use a schema file instead,
// which then imports the same configuration but for its header.
func TestImportEntraJobWithoutPermission(t *testing.T) {
	opts := smallWorld()
	opts.EntraJob = true
	tw := newTestWorld(t, opts, "")
	if err := tw.w.Graph.RevokePermission(tw.w.ClientID, "Synchronization.Read.All"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, _, err := config.ParseSetup([]byte(setupYAML(tw.w, filepath.Join(dir, "state.db"))), tw.m.Environ)
	if err != nil {
		t.Fatal(err)
	}
	roots := appOptions{roots: tw.w.CA.Pool()}
	out := filepath.Join(dir, "g2msync.yaml")
	err = tw.m.importEntraJob(context.Background(), base, application.ImportRequest{}, out, false, roots)
	if err == nil || !strings.Contains(err.Error(), "Synchronization.Read.All is optional") || !strings.Contains(err.Error(), "--from-file") {
		t.Fatalf("import without the permission: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed import left a file")
	}
	req := application.ImportRequest{Schema: []byte(scenario.EntraJobSchema), File: "schema.json"}
	if err := tw.m.importEntraJob(context.Background(), base, req, out, false, roots); err != nil {
		t.Fatal(err)
	}
	written, _ := os.ReadFile(out)
	if !regexp.MustCompile(`schema file "schema.json"`).Match(written) {
		t.Errorf("header does not name the file:\n%s", written)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".g2msync.yaml.*")); len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}
