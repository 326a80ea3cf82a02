package notify

import (
	"fmt"
	"strings"
	"time"
)

// kind names one incident. The order is the order mails go out when several
// open in one cycle: the cause (credentials) before its symptoms.
type kind int

const (
	kindAuth kind = iota
	kindFailing
	kindQuarantine
	kindStaged
	kindAccounts
	kindSeats
	numKinds
)

// maxListed caps the people named in one mail: a list of thousands helps
// nobody and may exceed a relay's size limit; `g2msync plan` and `status`
// show the rest.
const maxListed = 50

// Commands named in mails, kept here so each appears in one spelling.
const (
	cmdCheck   = "g2msync check"
	cmdPlan    = "g2msync plan"
	cmdRelease = "g2msync run --once --allow-disables"
	cmdStatus  = "g2msync status"
	cmdRetry   = "g2msync retry <user>"
)

func (k kind) String() string {
	switch k {
	case kindAuth:
		return "auth"
	case kindFailing:
		return "failing"
	case kindQuarantine:
		return "quarantine"
	case kindStaged:
		return "staged"
	case kindAccounts:
		return "accounts"
	case kindSeats:
		return "seats"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// active reports whether the incident's condition holds in o.
func (k kind) active(o Observation, failedCycles int) bool {
	switch k {
	case kindAuth:
		return o.AuthFailure != ""
	case kindFailing:
		return o.FailedInARow >= failedCycles
	case kindQuarantine:
		return o.JobQuarantined
	case kindStaged:
		return len(o.Staged) > 0
	case kindAccounts:
		return len(o.Quarantined) > 0
	}
	return false
}

// opened writes the mail for an incident that just opened. For staged
// disables, grown marks a follow-up and seen holds the users already
// reported, so the mail can say who is new.
func (k kind) opened(o Observation, failedCycles int, seen map[string]bool, grown bool) (subject, body string) {
	var b text
	switch k {
	case kindAuth:
		subject = "GoTo/Entra refused g2msync's credentials"
		b.para("Entra ID or GoTo refused g2msync's credentials in cycle %s (%s).", o.CycleID, when(o.Time))
		b.para("What to do:")
		b.indent(o.AuthFailure)
		b.para("What it means: g2msync cannot read the directory or change GoTo accounts until it signs in again. Nothing is lost: the first cycle that signs in applies whatever changed in Entra ID meanwhile. `%s` tests both sign-ins without changing anything.", cmdCheck)

	case kindFailing:
		subject = fmt.Sprintf("%d provisioning %s failed in a row", o.FailedInARow, plural(o.FailedInARow, "cycle", "cycles"))
		b.para("The last %d provisioning %s failed (this mail goes out from %d on); the latest was %s (%s).", o.FailedInARow, plural(o.FailedInARow, "cycle", "cycles"), failedCycles, o.CycleID, when(o.Time))
		b.para("Last error:")
		b.indent(orNone(o.Error))
		b.para("What it means: changes in Entra ID (new hires, leavers, renames) are not reaching GoTo. g2msync keeps trying on its schedule.")
		b.para("What to do: read the error above and the status page. `%s` tests the connections to Entra ID and GoTo without changing anything.", cmdCheck)

	case kindQuarantine:
		subject = "g2msync paused: cycles back off"
		if !o.HeldUntil.IsZero() {
			subject += " until " + when(o.HeldUntil)
		}
		b.para("After repeated failed cycles g2msync stopped calling Entra ID and GoTo on its normal schedule and waits longer between attempts. The next cycle runs at %s.", orUnknown(o.HeldUntil))
		b.para("Last error:")
		b.indent(orNone(o.Error))
		b.para("What it means: nothing is provisioned while cycles back off. The wait grows while cycles keep failing, and g2msync returns to its normal schedule by itself after the first cycle that succeeds.")
		b.para("What to do: fix the cause named in the error; `%s` tests the connections to Entra ID and GoTo without changing anything.", cmdCheck)

	case kindStaged:
		n := len(o.Staged)
		subject = fmt.Sprintf("%d %s for approval", n, plural(n, "disable waits", "disables wait"))
		if grown {
			var added []string
			for _, u := range o.Staged {
				if !seen[u] {
					added = append(added, u)
				}
			}
			b.para("More disables were staged since the last mail: %d in all now, %d of them new.", n, len(added))
			b.para("New:")
			b.list(added)
			b.para("All staged:")
		} else {
			b.para("Cycle %s (%s) would disable more GoTo accounts than the safety thresholds allow in one cycle, so it applied its other changes and staged %d %s for a person to approve:", o.CycleID, when(o.Time), n, plural(n, "disable", "disables"))
		}
		b.list(o.Staged)
		b.para("Reason: %s", orNone(o.StageReason))
		b.para("What it means: these people keep their GoTo accounts and licences until someone approves. Many disables at once are often a mistake upstream (a group emptied, a scope filter changed), so check before releasing.")
		b.para("What to do:")
		b.indent("1. Review the plan:           " + cmdPlan)
		b.indent("2. If it is right, apply it:  " + cmdRelease)
		b.para("If it is wrong, fix the group or scope in Entra ID; later cycles drop the disables they no longer plan.")

	case kindAccounts:
		n := len(o.Quarantined)
		subject = fmt.Sprintf("%d %s quarantined after repeated failures", n, plural(n, "account", "accounts"))
		b.para("g2msync failed to provision %s several cycles in a row and stopped retrying:", plural(n, "this account", "these accounts"))
		b.list(o.Quarantined)
		b.para("What it means: changes for %s are not applied to GoTo until the person changes in Entra ID or someone retries. Everyone else is provisioned as usual.", plural(n, "this person", "these people"))
		b.para("What to do: `%s` shows each account's last error. Fix the cause (for example a conflicting GoTo account or no free licence), then retry:", cmdStatus)
		b.indent(cmdRetry)
	}
	b.footer(o)
	return subject, b.String()
}

// seatsOpened writes the mail for licences whose free seats fell below th.
func seatsOpened(o Observation, th SeatsThreshold) (subject, body string) {
	var b text
	low := th.low(o)
	subject = fmt.Sprintf("GoTo seats running low: %d %s below %s free", len(low), plural(len(low), "licence", "licences"), th)
	b.para("In cycle %s (%s) these GoTo licences had fewer free seats than notify.seats_free_below (%s):", o.CycleID, when(o.Time), th)
	b.list(low)
	b.para("What it means: once a licence has no free seat, new hires and re-enabled people who need it are deferred (no call is made for them) until seats are added or freed.")
	b.para("What to do: add seats in GoTo Admin, or free seats held by accounts that no longer need them. `%s` lists the people deferred for want of a seat.", cmdStatus)
	b.footer(o)
	return subject, b.String()
}

// resolved writes the mail for an incident whose condition no longer holds.
func (k kind) resolved(o Observation, since time.Time) (subject, body string) {
	var b text
	at := fmt.Sprintf("cycle %s (%s)", o.CycleID, when(o.Time))
	switch k {
	case kindAuth:
		subject = "Resolved: Entra ID and GoTo accept g2msync's credentials again"
		b.para("In %s g2msync signed in without a credentials error; the problem reported at %s is over. Cycles provision changes again.", at, orUnknown(since))
	case kindFailing:
		subject = "Resolved: provisioning cycles succeed again"
		b.para("The run of failed cycles that began at %s has ended: %s ended with outcome %q. Changes made in Entra ID meanwhile are applied by this and later cycles.", orUnknown(since), at, o.Outcome)
	case kindQuarantine:
		subject = "Resolved: g2msync runs on its normal schedule again"
		b.para("Cycles no longer back off as of %s; they had backed off since %s.", at, orUnknown(since))
	case kindStaged:
		subject = "Resolved: no disables wait for approval"
		b.para("As of %s no disables are staged: they were released with `%s`, or the plan no longer includes them. Disables had waited since %s.", at, cmdRelease, orUnknown(since))
	case kindSeats:
		subject = "Resolved: GoTo licences have free seats again"
		b.para("As of %s every GoTo licence has at least notify.seats_free_below free seats; seats had run low since %s.", at, orUnknown(since))
	case kindAccounts:
		subject = "Resolved: no accounts are quarantined"
		b.para("As of %s no account is quarantined: each was retried, changed in Entra ID, or no longer needs a change. Accounts had been quarantined since %s.", at, orUnknown(since))
	}
	b.para("Nothing more to do.")
	b.footer(o)
	return subject, b.String()
}

// text builds a plain-text body: paragraphs wrapped for a mail reader,
// indented lines and lists left as they are.
type text struct{ strings.Builder }

const wrapAt = 72

func (b *text) para(format string, args ...any) {
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	line := 0
	for i, w := range strings.Fields(fmt.Sprintf(format, args...)) {
		if i > 0 && line+1+len(w) > wrapAt {
			b.WriteString("\n")
			line = 0
		} else if i > 0 {
			b.WriteString(" ")
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\n")
}

// indent writes s, which may span lines, indented by two spaces.
func (b *text) indent(s string) {
	for l := range strings.Lines(s) {
		b.WriteString("  " + strings.TrimRight(l, "\r\n") + "\n")
	}
}

// list writes one name per line, at most maxListed, then how many were left out.
func (b *text) list(names []string) {
	for i, n := range names {
		if i == maxListed {
			b.WriteString(fmt.Sprintf("  and %d more\n", len(names)-maxListed))
			break
		}
		b.WriteString("  " + n + "\n")
	}
}

// footer ends every mail with where the reader can look next and why they
// will not be flooded.
func (b *text) footer(o Observation) {
	b.WriteString("\n--\n")
	b.WriteString(fmt.Sprintf("Cycle:  %s at %s, outcome %s\n", orNone(o.CycleID), when(o.Time), orNone(o.Outcome)))
	if o.StatusURL != "" {
		b.WriteString("Status: " + o.StatusURL + "\n")
	}
	b.WriteString("g2msync mails once when an incident opens and once when it clears.\n")
}

// when formats t for a reader anywhere: minutes, in UTC, with the zone named.
func when(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

func orUnknown(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return when(t)
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none recorded)"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
