package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/view"

	"golang.org/x/term"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/console"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
)

// DemoCommand runs real provisioning cycles against a simulated tenant and
// GoTo account, so a newcomer sees g2msync work before owning either.
type DemoCommand struct{ m *Main }

const demoUsage = `usage: g2msync demo [flags]

Starts a simulated Microsoft Entra tenant (Graph and its token endpoint) and
a simulated GoTo account on loopback, both over HTTPS with a throwaway CA,
and runs g2msync's real code against them: the Graph SDK, the GoTo client,
the planner, the safety gates and a real state file.

  1. plans and runs the initial sync of a few hundred people (adopting the
     GoTo accounts that already exist, skipping whom it must);
  2. changes the tenant: a new hire, a rename, an unassignment and an account
     disabled in Entra;
  3. plans and runs an incremental cycle that makes exactly those changes.

With --from-entra-job it starts as a migration: the tenant has Entra's own
GoToMeeting provisioning job, whose accounts exist in GoTo. The demo runs
'g2msync import entra-job', fills in the licences 'check' lists, and the
initial sync adopts every account the old job made and creates none.

With --serve it then keeps the daemon running on the simulated tenant, with
the web console, /status and /metrics on --listen, until Ctrl-C; it prints
the console's address, two people of the simulated tenant who sign in with
Microsoft (an operator, and a reader outside the operators group) and the
break-glass operator "demo", with their password.`

// Run implements command.
func (c *DemoCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("demo", demoUsage)
	serve := fs.Bool("serve", false, "keep the daemon running on the demo tenant after the two cycles")
	listen := fs.String("listen", "127.0.0.1:9464", "with --serve: address of /healthz, /readyz, /metrics and /status")
	dir := fs.String("state-dir", "", "directory of the demo's state file (default: a temporary directory, removed at exit)")
	latency := fs.Duration("latency", 0, "latency to add to every simulated call, e.g. 20ms")
	fromJob := fs.Bool("from-entra-job", false, "start as a migration: the tenant has Entra's own GoToMeeting provisioning job, whose accounts exist in GoTo; import its configuration first")
	if err := parse(fs, args); err != nil {
		return err
	}
	out := c.m.Stdout
	stateDir := *dir
	if stateDir == "" {
		tmp, err := os.MkdirTemp("", "g2msync-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		stateDir = tmp
	}
	fmt.Fprintln(out, "Starting a simulated Entra tenant and GoTo account on loopback (HTTPS, throwaway CA) ...")
	w, err := scenario.Start(scenario.Options{GraphLatency: *latency, GoToLatency: *latency, EntraJob: *fromJob})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(out, "  Entra: tenant %s at %s, app %q with roles User and Admin\n", w.TenantID, w.Graph.URL(), "GoToMeeting")
	fmt.Fprintf(out, "         groups Sales, Engineering and Support assigned as User; 12 people assigned directly as Admin;\n")
	fmt.Fprintf(out, "         3 assigned with Default Access only; 4 group members disabled in Entra (%d people in all)\n", len(w.People))
	fmt.Fprintf(out, "  GoTo:  account %s at %s, licence %s, a SUPER_USER admin (%s)\n", w.AccountKey, w.GoTo.URL(), w.LicenseKey, w.AdminEmail)
	if *fromJob {
		fmt.Fprintf(out, "         and an account for everyone Entra's own provisioning job (%s) made\n\n", w.EntraJobID)
	} else {
		fmt.Fprintf(out, "         and 15 accounts that already exist for people in scope, their emails in other case\n\n")
	}

	listenAddr := ""
	if *serve {
		listenAddr = *listen
	}
	cfg, err := config.Parse([]byte(w.ConfigYAML(filepath.Join(stateDir, "state.db"), listenAddr)), w.Environ())
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	if *fromJob {
		if cfg, err = c.importDemoJob(ctx, w, cfg, stateDir); err != nil {
			return err
		}
	}
	demoPassword := ""
	var entraOp, entraReader string
	if *serve {
		// An operator for the console, so a visitor can approve, retry and pause.
		if demoPassword, err = demoOperator(cfg, stateDir); err != nil {
			return err
		}
		// And sign-in with the simulated Entra: an operator and a reader.
		if entraOp, entraReader, err = demoEntra(w, cfg, listenAddr, demoPassword); err != nil {
			return err
		}
	}
	log := c.m.newLogger(cfg, c.m.Stderr)
	a, err := c.m.newApp(cfg, log, metrics.New(version), appOptions{roots: w.CA.Pool()})
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "== Initial sync: the plan (g2msync plan --initial-sync)")
	rep, err := a.cycle(ctx, engine.Options{DryRun: true, InitialSync: true})
	if err != nil {
		return err
	}
	view.PlanText(out, rep.Result.Plan, 4)
	fmt.Fprintln(out, "\n== Initial sync: applying it (g2msync run --once --initial-sync)")
	a.svc.Progress = c.progressBar()
	rep, err = a.cycle(ctx, engine.Options{InitialSync: true})
	a.svc.Progress = nil
	if err != nil {
		return err
	}
	view.CycleSummary(out, rep.Result)
	fmt.Fprintf(out, "  GoTo now holds %d accounts: g2msync owns %d, the admin's is left alone.\n\n", len(w.GoTo.Users()), rep.OwnedActive)

	fmt.Fprintln(out, "== Changing the tenant")
	hire, err := w.NewHire("Sales")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  new hire:        %s joins Sales\n", hire.Mail)
	ren := w.InScope(false)[5]
	oldMail := ren.Mail
	if err := w.Rename(ren.ID, "Okafor"); err != nil {
		return err
	}
	fmt.Fprintf(out, "  rename:          %s is now %s\n", oldMail, w.Person(ren.ID).Mail)
	leaver := w.InScope(false)[40]
	if err := w.RemoveFromGroup(leaver.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "  unassignment:    %s leaves %s\n", leaver.Mail, leaver.Group)
	gone := w.InScope(false)[80]
	if err := w.Disable(gone.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "  disabled:        %s's Entra account is disabled\n\n", gone.Mail)

	fmt.Fprintln(out, "== Incremental cycle: the plan (g2msync plan)")
	rep, err = a.cycle(ctx, engine.Options{DryRun: true})
	if err != nil {
		return err
	}
	view.PlanText(out, rep.Result.Plan, 0)
	fmt.Fprintln(out, "\n== Incremental cycle: applying it (g2msync run --once)")
	rep, err = a.cycle(ctx, engine.Options{})
	if err != nil {
		return err
	}
	view.CycleSummary(out, rep.Result)
	fmt.Fprintf(out, "\n== The provisioning log of that cycle (g2msync report --cycle %s)\n", rep.Result.CycleID)
	st, err := state.Open(cfg.StatePath, state.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	entries, err := st.Audit(state.AuditFilter{CycleID: rep.Result.CycleID})
	st.Close()
	if err != nil {
		return err
	}
	if err := view.Log(out, entries, "text"); err != nil {
		return err
	}
	if !*serve {
		fmt.Fprintf(out, "\nDone. Run `g2msync demo --serve` to keep the daemon running on this tenant, with the web console, /status and /metrics.\n")
		return nil
	}
	fmt.Fprintf(out, "\n== Serving: the daemon runs a cycle every 30 s.\n  console  http://%s/\n", listenAddr)
	fmt.Fprintf(out, "           Sign in with Microsoft (the simulated Entra at %s; accept its throwaway certificate):\n", w.Graph.URL())
	fmt.Fprintf(out, "             %s, password %s: in the operators group, acts\n", entraOp, demoPassword)
	fmt.Fprintf(out, "             %s, password %s: of the tenant, reads only\n", entraReader, demoPassword)
	fmt.Fprintf(out, "           or break-glass: operator demo, password %s\n  curl http://%s/status\n  curl http://%s/metrics\n  (Ctrl-C to stop)\n",
		demoPassword, listenAddr, listenAddr)
	c.m.demoChanges = func() (string, error) { return changeDemoTenant(w) }
	return c.m.runDaemon(ctx, a, "")
}

// changeDemoTenant makes the changes a visitor triggers from the demo's
// console: someone joins Sales, someone is renamed, someone leaves.
func changeDemoTenant(w *scenario.World) (string, error) {
	hire, err := w.NewHire("Sales")
	if err != nil {
		return "", err
	}
	in := w.InScope(false)
	if len(in) < 3 {
		return "", errors.New("the demo tenant has too few people left")
	}
	ren, leaver := in[len(in)/3], in[len(in)/2]
	if err := w.Rename(ren.ID, "Haddad"); err != nil {
		return "", err
	}
	if err := w.RemoveFromGroup(leaver.ID); err != nil {
		return "", err
	}
	return fmt.Sprintf("in Entra: %s joined Sales, %s is now %s, %s left %s; the next cycle provisions them",
		hire.Mail, ren.Mail, w.Person(ren.ID).Mail, leaver.Mail, leaver.Group), nil
}

// progressBar draws the apply progress on a terminal; elsewhere the demo
// stays quiet (its output is the story, not log lines).
func (c *DemoCommand) progressBar() func(done, total int) {
	f, ok := c.m.Stdout.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return newProgress(f, nil, "  creating", time.Now)
}

// demoOperator writes an operators file with the operator "demo" and a new
// random password beside the demo's state file, and returns the password.
func demoOperator(cfg *config.Config, dir string) (string, error) {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	h, err := console.HashPassword(pw)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "operators")
	if err := os.WriteFile(path, []byte("demo:"+h+"\n"), 0o600); err != nil {
		return "", err
	}
	cfg.Console.OperatorsFile = path
	return pw, nil
}

// demoEntra lets people sign in to the demo's console with the simulated
// Entra: the daemon's app gets the console's redirect URIs and the groups
// claim, and the tenant a "g2msync operators" group with an operator in
// it and a reader outside, both with password. It returns their UPNs.
func demoEntra(w *scenario.World, cfg *config.Config, listen, password string) (string, string, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", "", err
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if err := w.Graph.AddRedirectURI(w.ClientID, "http://"+host+":"+port+"/auth/callback"); err != nil {
			return "", "", err
		}
	}
	if err := w.Graph.SetGroupClaims(w.ClientID, true); err != nil {
		return "", "", err
	}
	group, err := w.Graph.AddGroup(graphsim.Group{DisplayName: "g2msync operators", SecurityEnabled: true})
	if err != nil {
		return "", "", err
	}
	var upns []string
	for _, u := range []struct{ local, name string }{{"console.operator", "Console Operator"}, {"console.reader", "Console Reader"}} {
		upn := u.local + "@" + scenario.Domain
		id, err := w.Graph.AddUser(graphsim.User{UserPrincipalName: upn, DisplayName: u.name, Mail: upn})
		if err != nil {
			return "", "", err
		}
		if err := w.Graph.SetPassword(id, password); err != nil {
			return "", "", err
		}
		if len(upns) == 0 {
			if err := w.Graph.AddMember(group, id); err != nil {
				return "", "", err
			}
		}
		upns = append(upns, upn)
	}
	cfg.Console.Entra = config.ConsoleEntra{Enabled: true, TenantID: w.TenantID, ClientID: w.ClientID, OperatorsGroup: group}
	return upns[0], upns[1], nil
}

// importDemoJob is the migration the demo shows with --from-entra-job:
// `import entra-job` writes the configuration from Entra's job, then the
// licences `check` would list are filled in, as an administrator pastes
// them, and the demo goes on with that configuration.
func (c *DemoCommand) importDemoJob(ctx context.Context, w *scenario.World, cfg *config.Config, dir string) (*config.Config, error) {
	out := c.m.Stdout
	file := filepath.Join(dir, "g2msync.yaml")
	fmt.Fprintf(out, "== Migrating: g2msync import entra-job --output %s\n", file)
	// The written file names the simulators' secrets by their variables,
	// as a real one names its secret files: the import checks it loads
	// with them.
	saved := c.m.Environ
	c.m.Environ = append(slices.Clone(saved), w.Environ()...)
	err := c.m.importEntraJob(ctx, cfg, application.ImportRequest{}, file, false, appOptions{roots: w.CA.Pool()})
	c.m.Environ = saved
	if err != nil {
		return nil, err
	}
	written, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "\n== Filling in the licences `g2msync check` lists: every role gets %s\n\n", w.LicenseKey)
	filled := strings.ReplaceAll(string(written), "licenses: []", `licenses: ["`+w.LicenseKey+`"]`)
	imported, err := config.Parse([]byte(filled), w.Environ())
	if err != nil {
		return nil, fmt.Errorf("the imported configuration: %w", err)
	}
	imported.Log = cfg.Log // the demo's quiet logging, not the daemon's
	return imported, nil
}
