package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/console"
	"github.com/g2msync/g2msync/pkg/state"
	"github.com/g2msync/g2msync/pkg/view"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/entrajob"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/metrics"
)

// CheckCommand checks the configuration's secret files, then tests both
// connections, like the portal's Test Connection.
type CheckCommand struct{ m *Main }

const checkUsage = `usage: g2msync check [flags]

Validates the configuration, then tests both connections the way the Entra
portal's Test Connection does, one line per step with OK, WARN, FAIL or SKIP and
what to do. The configuration: each file a secret comes from (client
secrets, tokens, passwords, the Entra certificate with its thumbprint and
expiry, the TLS key, the console's operators) with who may read it and the
chmod/chown that makes it private; each operator line a bcrypt hash;
whether /status needs a token; whether the console could start. Then Entra
sign-in, each Graph permission g2msync needs, the enterprise app, its
assignments, reading a group's members; GoTo sign-in, the account, the
admin's role, and each mapped licence with its free seats. Changes nothing
(except keeping a refresh token GoTo rotates).

It runs before the configuration is complete: with roles whose licences are
placeholders or empty, or without goto.account_key, it marks those WARN,
lists the GoTo accounts the admin manages, and prints a roles: block ready
to paste, with each app role of the enterprise app (value, id, display
name) and each licence of the account (name, key, free seats). Exits 2 if
the configuration is otherwise invalid (every problem listed, each with its
key), 1 if any step fails.`

// Run implements command.
func (c *CheckCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("check", checkUsage)
	cfgPath := c.m.configFlag(fs)
	printConfig := fs.Bool("print-config", false, "also print the effective configuration (secrets redacted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, pending, err := c.m.loadSetupConfig(*cfgPath)
	if err != nil {
		return err
	}
	failed := c.m.checkConfig(cfg, pending)
	if *printConfig {
		out := c.m.Stdout
		fmt.Fprintln(out, "\nEffective configuration:")
		if err := cfg.Dump(out); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	return c.m.checkConnections(ctx, cfg, pending, appOptions{}, failed)
}

// check runs every step of `check` on a loaded configuration.
func (m *Main) check(ctx context.Context, cfg *config.Config, o appOptions) error {
	return m.checkConnections(ctx, cfg, nil, o, m.checkConfig(cfg, nil))
}

// step prints one line of check: OK, WARN, FAIL or SKIP (not taken: a step it needs failed), the step, the detail.
func (m *Main) step(status, name, detail string) {
	fmt.Fprintf(m.Stdout, "%-5s %-38s %s\n", status, view.Safe(name), view.Safe(detail)) // names and GoTo's words are not ours
}

// checkConfig prints what loading the configuration found: each file a
// secret came from with who may read it and the command that makes it
// private, the console's operators, whether /status needs a token, and
// the other warnings. It returns how many steps failed.
func (m *Main) checkConfig(cfg *config.Config, pending config.Problems) (failed int) {
	if len(pending) == 0 {
		m.step("OK", "Configuration", "valid")
	} else {
		m.step("WARN", "Configuration", fmt.Sprintf("valid but for %d settings check helps fill in (below)", len(pending)))
		for _, p := range pending {
			m.step("WARN", p.Key, p.Msg)
		}
	}
	seen := map[config.Problem]bool{}
	var ops map[string][]byte
	var opsErr error
	for _, f := range cfg.SecretFiles {
		status := "OK"
		if w, ok := f.Warning(); ok {
			seen[w], status = true, "WARN"
		}
		if f.Key == "console.operators_file" {
			if ops, opsErr = console.LoadOperators(f.Path); opsErr != nil {
				m.step("FAIL", f.Key, opsErr.Error()+"; the daemon will not start until it is mended")
				failed++
				continue
			}
			names := slices.Sorted(maps.Keys(ops))
			f.Holds = fmt.Sprintf("%d operators: %s", len(names), strings.Join(names, ", "))
			if len(names) == 1 {
				f.Holds = "1 operator: " + names[0]
			}
		}
		m.step(status, f.Key, f.String())
	}
	for _, w := range cfg.Warnings {
		if !seen[w] {
			m.step("WARN", w.Key, w.Msg)
		}
	}
	if status, detail := statusToken(cfg); status != "" {
		m.step(status, "status_token", detail)
	}
	if err := consoleRefusal(cfg, len(ops) > 0); err != nil && opsErr == nil {
		m.step("FAIL", "Console", err.Error())
		failed++
	}
	return failed
}

// statusToken says whether /status needs the token on the listener, as
// a step's status and detail; no status when nothing listens.
func statusToken(cfg *config.Config) (status, detail string) {
	t := cfg.StatusToken
	switch {
	case cfg.Listen == "":
		return "", ""
	case daemon.Loopback(cfg.Listen) && t.IsSet():
		return "OK", fmt.Sprintf("/status on %s answers only this host, and needs no token there; the one from %s is not used", cfg.Listen, t.Source())
	case daemon.Loopback(cfg.Listen):
		return "OK", fmt.Sprintf("not needed: /status on %s answers only this host", cfg.Listen)
	case t.IsSet():
		return "OK", fmt.Sprintf("/status on %s needs the token from %s, sent as Authorization: Bearer", cfg.Listen, t.Source())
	}
	return "WARN", fmt.Sprintf("%s is reachable from other hosts, so /status (which names people) is refused there "+
		"until status_token_file is set; /metrics, /healthz and /readyz stay open", cfg.Listen)
}

// checkConnections tests Entra, Graph, the state file and GoTo, after
// failed steps of the configuration; it fails if any step did.
func (m *Main) checkConnections(ctx context.Context, cfg *config.Config, pending config.Problems, o appOptions, failed int) error {
	a, err := m.newApp(cfg, m.quietLogger(cfg, m.Stderr), metrics.New(version), o)
	if err != nil {
		return err
	}
	report := func(c graph.Check) {
		status := "OK"
		switch {
		case !c.OK:
			status = "FAIL"
			failed++
		case c.Skipped:
			status = "SKIP"
		case c.Warn:
			status = "WARN"
		}
		m.step(status, c.Name, c.Detail)
	}
	rolesPending := slices.ContainsFunc(pending, func(p config.Problem) bool { return strings.HasPrefix(p.Key, "roles") })
	var lics []gotomeeting.License
	for _, c := range a.source.Check(ctx) {
		report(c)
	}
	for _, c := range checkRoles(ctx, a) {
		report(c)
	}
	// check never creates or binds the state file (plan neither); it holds
	// an existing one so that a token GoTo rotates meanwhile is kept.
	err = a.svc.WithTokens(func(st *state.Store) error {
		if st == nil {
			report(graph.Check{Name: "State file", OK: true, Detail: a.cfg.StatePath + " does not exist yet; `g2msync run --once --initial-sync` creates it"})
		} else {
			report(graph.Check{Name: "State file", OK: true, Detail: st.Path()})
		}
		var checks []graph.Check
		checks, lics = checkGoTo(ctx, a, rolesPending)
		for _, c := range checks {
			report(c)
		}
		return nil
	})
	if err != nil {
		report(graph.Check{Name: "State file", Detail: err.Error()})
		var checks []graph.Check
		checks, lics = checkGoTo(ctx, a, rolesPending)
		for _, c := range checks {
			report(c)
		}
	}
	if rolesPending && lics != nil {
		if err := m.printRolesBlock(ctx, a, lics); err != nil {
			report(graph.Check{Name: "Roles block", Detail: err.Error()})
		}
	}
	if failed > 0 {
		return exitError{ExitFailure, fmt.Sprintf("%d checks failed", failed)}
	}
	if len(pending) > 0 {
		fmt.Fprintf(m.Stdout, "\nThe configuration is not complete: fill in the %d settings marked WARN above from what check found, then run check again.\n", len(pending))
		return nil
	}
	fmt.Fprintln(m.Stdout, "\nAll checks passed. Next: `g2msync plan` shows what the first cycle would do.")
	return nil
}

// printRolesBlock prints a roles: block ready to paste: each app role of
// the enterprise app (value, id, display name) with every licence of the
// GoTo account (name, key, free seats) to keep or delete.
func (m *Main) printRolesBlock(ctx context.Context, a *app, lics []gotomeeting.License) error {
	app, err := a.source.App(ctx)
	if err != nil {
		return err
	}
	ls := make([]entrajob.License, 0, len(lics))
	for _, l := range lics {
		if l.Enabled {
			ls = append(ls, entrajob.License{Key: l.Key, Name: l.Description, Seats: l.Seats, Free: l.Free()})
		}
	}
	block, err := entrajob.RolesBlock(app.Roles, ls)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "\nPaste this roles: block into the configuration, keeping under each app role the licences it gives:\n\n%s", block)
	return nil
}

// checkGoTo tests the GoTo side: sign-in, account, the admin's role,
// licences (each mapped one, unless the roles wait for theirs); it returns
// the account's licences, nil if they could not be read.
func checkGoTo(ctx context.Context, a *app, rolesPending bool) ([]graph.Check, []gotomeeting.License) {
	var out []graph.Check
	me, err := a.svc.GoTo().Me(ctx)
	if err != nil {
		hint := ""
		switch {
		case errors.Is(err, gotomeeting.ErrRefreshTokenRejected), errors.Is(err, gotomeeting.ErrNotLoggedIn):
		case errors.Is(err, gotomeeting.ErrUnauthorized):
			hint = "; check goto.client_id and the client secret, or run `g2msync login goto`"
		}
		return append(out, graph.Check{Name: "GoTo sign-in", Detail: err.Error() + hint}), nil
	}
	out = append(out, graph.Check{Name: "GoTo sign-in", OK: true, Detail: fmt.Sprintf("signed in as %s (user key %s)", me.Email, me.Key)})
	var keys []string
	found := me.AccountKey == a.cfg.GoTo.AccountKey
	for _, acct := range me.Accounts {
		keys = append(keys, fmt.Sprintf("%s (%s)", acct.Key, acct.Name))
		if acct.Key == a.cfg.GoTo.AccountKey {
			found = true
		}
	}
	switch {
	case a.cfg.GoTo.AccountKey == "":
		if len(keys) == 0 {
			keys = append(keys, me.AccountKey)
		}
		out = append(out, graph.Check{Name: "GoTo account", OK: true, Warn: true, Detail: fmt.Sprintf(
			"goto.account_key is not set; %s administers: %s; set it to the account to provision (the licences below are %s's)",
			me.Email, strings.Join(keys, ", "), me.AccountKey)})
	case !found:
		return append(out, graph.Check{Name: "GoTo account", Detail: fmt.Sprintf(
			"%s does not administer account %s; set goto.account_key to one of: %s", me.Email, a.cfg.GoTo.AccountKey, strings.Join(keys, ", "))}), nil
	default:
		out = append(out, graph.Check{Name: "GoTo account", OK: true, Detail: "account " + a.cfg.GoTo.AccountKey})
	}
	if u, err := a.svc.GoTo().GetUser(ctx, me.Key); err != nil {
		out = append(out, graph.Check{Name: "GoTo admin role", Detail: "cannot read the admin's own account: " + err.Error()})
	} else if slices.Contains(u.AdminRoles, "SUPER_USER") || slices.Contains(u.AdminRoles, "MANAGE_USERS") {
		out = append(out, graph.Check{Name: "GoTo admin role", OK: true, Detail: strings.Join(u.AdminRoles, ", ") + ": may manage users"})
	} else {
		out = append(out, graph.Check{Name: "GoTo admin role", Detail: fmt.Sprintf(
			"%s has roles [%s]; give it SUPER_USER or MANAGE_USERS in GoTo Admin, or sign in as another admin", me.Email, strings.Join(u.AdminRoles, ", "))})
	}
	lics, err := a.svc.GoTo().Licenses(ctx)
	if err != nil {
		return append(out, graph.Check{Name: "GoTo licences", Detail: err.Error()}), nil
	}
	if rolesPending {
		return append(out, graph.Check{Name: "GoTo licences", OK: true, Warn: true, Detail: fmt.Sprintf(
			"%d licences in the account; the roles wait for theirs: paste the roles block below", len(lics))}), lics
	}
	var all []string
	for _, l := range lics {
		all = append(all, fmt.Sprintf("%s (%s)", l.Key, l.Description))
	}
	for _, key := range a.svc.Mapper().ManagedLicenses() {
		name := "Licence " + key
		i := slices.IndexFunc(lics, func(l gotomeeting.License) bool { return l.Key == key })
		switch {
		case i < 0:
			out = append(out, graph.Check{Name: name, Detail: "not in the GoTo account; fix roles in the configuration. The account's licences: " + strings.Join(all, ", ")})
		case !lics[i].Enabled:
			out = append(out, graph.Check{Name: name, Detail: fmt.Sprintf("%q is disabled in GoTo", lics[i].Description)})
		case lics[i].Free() <= 0:
			out = append(out, graph.Check{Name: name, Detail: fmt.Sprintf("%q has no free seat (%d of %d used): creates will fail until seats are added",
				lics[i].Description, lics[i].UserCount, lics[i].Seats)})
		default:
			out = append(out, graph.Check{Name: name, OK: true, Detail: fmt.Sprintf("%q: %d of %d seats used, %d free",
				lics[i].Description, lics[i].UserCount, lics[i].Seats, lics[i].Free())})
		}
	}
	return out, lics
}

// warnings are the configuration's warnings (secret files others can read,
// a certificate near or past its end) and the listener's: /status refused
// on an address other hosts can reach, because no token is set.
func warnings(cfg *config.Config) []config.Problem {
	ws := slices.Clone(cfg.Warnings)
	if status, detail := statusToken(cfg); status == "WARN" {
		ws = append(ws, config.Problem{Key: "status_token", Msg: detail})
	}
	return ws
}

// checkRoles tests what the configuration's roles name: app roles the
// enterprise app has (a role `Users` for `User` skipped everyone assigned
// it) and admin roles GoTo grants (MANAGE_USER for MANAGE_USERS).
func checkRoles(ctx context.Context, a *app) []graph.Check {
	var out []graph.Check
	app, err := a.source.App(ctx)
	if err == nil {
		known := make([]string, 0, len(app.Roles))
		for _, r := range app.Roles {
			known = append(known, r.Value)
		}
		for _, name := range a.svc.Mapper().UnknownRoles(app) {
			out = append(out, graph.Check{Name: "Role " + name, Detail: fmt.Sprintf("the enterprise app %q has no app role with this value or id; "+
				"its roles: %s; fix the name under roles", app.DisplayName, strings.Join(known, ", "))})
		}
	}
	names := make([]string, 0, len(a.cfg.Roles))
	for name := range a.cfg.Roles {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, r := range a.cfg.Roles[name].AdminRoles {
			if !slices.Contains(gotomeeting.AdminRoles(), r) {
				out = append(out, graph.Check{Name: "Role " + name, Detail: fmt.Sprintf("admin role %s is not one GoTo grants (%s); fix roles.%s.admin_roles",
					r, strings.Join(gotomeeting.AdminRoles(), ", "), name)})
			}
		}
	}
	return out
}
