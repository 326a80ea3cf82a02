package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/state"
	"github.com/g2msync/g2msync/pkg/view"
)

// driftedWorld is a provisioned world in which, after a leaver was
// suspended, an administrator changed four managed accounts in GoTo Admin:
// gave the suspended leaver a licence back, renamed one, removed another's
// licence and deleted a fourth; and edited an account g2msync does not
// manage.
type driftedWorld struct {
	*testWorld
	leaver, renamed, unlicensed, deleted scenario.Person
	outsider                             string // GoTo key of the unmanaged account
}

func newDriftedWorld(t *testing.T, drift string) (*driftedWorld, *app) {
	t.Helper()
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 12}},
		DirectAdmins: -1, DefaultAccess: -1, Disabled: -1, PreExisting: -1}, "")
	tw.cfg.GoTo.Drift = drift
	a := tw.app()
	tw.mustCycle(a, engine.Options{InitialSync: true})
	people := tw.w.InScope(false)
	dw := &driftedWorld{testWorld: tw, leaver: people[0], renamed: people[1], unlicensed: people[2], deleted: people[3]}
	if err := tw.w.RemoveFromGroup(dw.leaver.ID); err != nil {
		t.Fatal(err)
	}
	if res := tw.mustCycle(a, engine.Options{}); res.Cycle.Applied["disable"] != 1 {
		t.Fatalf("the leaver was not suspended: %v", res.Cycle.Applied)
	}
	var err error
	if dw.outsider, err = tw.w.GoTo.AddUser(gotosim.User{Email: "contractor@partner.example", FirstName: "Con", LastName: "Tractor"}); err != nil {
		t.Fatal(err)
	}
	lic := tw.w.GoTo.Licenses()[0].Key
	edit := func(p scenario.Person, fn func(*gotosim.User)) {
		t.Helper()
		u, ok := tw.w.GoTo.UserByEmail(p.Mail)
		if !ok {
			t.Fatalf("no GoTo account for %s", p.Mail)
		}
		if err := tw.w.GoTo.EditUser(u.Key, fn); err != nil {
			t.Fatal(err)
		}
	}
	edit(dw.leaver, func(u *gotosim.User) { u.LicenseKeys = []string{lic} })
	edit(dw.renamed, func(u *gotosim.User) { u.LastName = "Edited" })
	edit(dw.unlicensed, func(u *gotosim.User) { u.LicenseKeys = nil })
	u, _ := tw.w.GoTo.UserByEmail(dw.deleted.Mail)
	tw.w.GoTo.DeleteUser(u.Key)
	if err := tw.w.GoTo.EditUser(dw.outsider, func(u *gotosim.User) { u.LastName = "Edited" }); err != nil {
		t.Fatal(err)
	}
	return dw, a
}

// drifted says which of the four accounts are still as the administrator
// left them in GoTo.
func (dw *driftedWorld) drifted() []string {
	var out []string
	g := dw.w.GoTo
	if u, _ := g.UserByEmail(dw.leaver.Mail); len(u.LicenseKeys) > 0 {
		out = append(out, "leaver licensed")
	}
	if u, _ := g.UserByEmail(dw.renamed.Mail); u.LastName == "Edited" {
		out = append(out, "renamed")
	}
	if u, _ := g.UserByEmail(dw.unlicensed.Mail); len(u.LicenseKeys) == 0 {
		out = append(out, "unlicensed")
	}
	if _, ok := g.UserByEmail(dw.deleted.Mail); !ok {
		out = append(out, "deleted")
	}
	return out
}

// TestReconcileRepairsDriftOnARegularCycle is the acceptance of issue 29:
// drift made in GoTo is repaired by the first regular cycle after
// goto.reconcile_interval, without --initial-sync; unmanaged accounts are
// left alone.
func TestReconcileRepairsDriftOnARegularCycle(t *testing.T) {
	dw, a := newDriftedWorld(t, "repair")
	all := []string{"leaver licensed", "renamed", "unlicensed", "deleted"}
	dw.w.GoTo.ResetCounters()
	res := dw.mustCycle(a, engine.Options{})
	if got := dw.drifted(); !slices.Equal(got, all) || res.Cycle.Reconcile != nil || dw.w.GoTo.Writes() != 0 {
		t.Fatalf("before the interval: drift %v, reconcile %+v, %d writes; a regular cycle trusts the state file", got, res.Cycle.Reconcile, dw.w.GoTo.Writes())
	}

	later := time.Now().Add(25 * time.Hour) // goto.reconcile_interval defaults to 24h
	a.svc.Now = func() time.Time { return later }
	plan := dw.plan(a)
	for _, want := range []string{"Reconcile (goto.reconcile_interval has passed): every GoTo account listed; 4 accounts changed in GoTo outside g2msync.",
		"deleted in GoTo", "lastName: Edited, was " + dw.renamed.Surname, "suspended by g2msync, but holds licences or admin roles again"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not say %q:\n%s", want, plan)
		}
	}
	res = dw.mustCycle(a, engine.Options{})
	if got := dw.drifted(); len(got) != 0 {
		t.Errorf("still drifted after the reconcile: %v", got)
	}
	if want := (&state.Reconcile{Drifted: 4, Repaired: 4}); res.Cycle.Reconcile == nil || *res.Cycle.Reconcile != *want || res.Cycle.Mode != "reconcile" {
		t.Errorf("cycle %s reconcile %+v, want %+v", res.Cycle.Mode, res.Cycle.Reconcile, want)
	}
	var sum bytes.Buffer
	view.CycleSummary(&sum, res)
	if !strings.Contains(sum.String(), "reconciled: 4 drifted, repaired") {
		t.Errorf("summary:\n%s", sum.String())
	}
	if u, _ := dw.w.GoTo.User(dw.outsider); u.LastName != "Edited" {
		t.Errorf("an unmanaged account was touched: %+v", u)
	}
	// The reconcile is recorded: the next cycle trusts the state file again.
	dw.w.GoTo.ResetCounters()
	if res := dw.mustCycle(a, engine.Options{}); res.Cycle.Reconcile != nil || !res.Plan.Empty() {
		t.Errorf("the cycle after the reconcile: reconcile %+v, plan %v", res.Cycle.Reconcile, res.Plan.Changes)
	}
}

// With goto.drift: report the reconcile finds the same drift, reports it,
// and writes nothing.
func TestReconcileReportsDriftWithoutWriting(t *testing.T) {
	dw, a := newDriftedWorld(t, "report")
	later := time.Now().Add(25 * time.Hour)
	a.svc.Now = func() time.Time { return later }
	plan := dw.plan(a)
	if !strings.Contains(plan, "not applied (goto.drift: report)") || !strings.Contains(plan, "goto.drift is report: nothing is written") {
		t.Errorf("plan:\n%s", plan)
	}
	dw.w.GoTo.ResetCounters()
	res := dw.mustCycle(a, engine.Options{})
	if got := dw.drifted(); len(got) != 4 || dw.w.GoTo.Writes() != 0 {
		t.Errorf("drift %v after %d writes; goto.drift: report writes nothing", got, dw.w.GoTo.Writes())
	}
	if want := (state.Reconcile{Drifted: 4, Reported: 4}); res.Cycle.Reconcile == nil || *res.Cycle.Reconcile != want {
		t.Errorf("reconcile %+v, want %+v", res.Cycle.Reconcile, want)
	}
	var sum bytes.Buffer
	view.CycleSummary(&sum, res)
	if !strings.Contains(sum.String(), "reconciled: 4 drifted, reported (goto.drift: report), not written") {
		t.Errorf("summary:\n%s", sum.String())
	}
}

// plan prints what `g2msync plan` would.
func (dw *driftedWorld) plan(a *app) string {
	dw.t.Helper()
	rep, err := dw.cycle(a, engine.Options{DryRun: true})
	if err != nil {
		dw.t.Fatal(err)
	}
	var out bytes.Buffer
	if err := view.PlanText(&out, rep.Result.Plan, 0); err != nil {
		dw.t.Fatal(err)
	}
	return out.String()
}
