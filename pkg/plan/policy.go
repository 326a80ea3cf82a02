package plan

import "fmt"

// Mode is the provisioning policy, as in external-dns: which kinds of change
// g2msync may make at all.
type Mode string

// Provisioning modes.
const (
	// ModeSync creates, updates, disables and re-enables.
	ModeSync Mode = "sync"
	// ModeCreateUpdate never disables or deletes.
	ModeCreateUpdate Mode = "create-update"
	// ModeCreateOnly only creates accounts and records adoptions; it never
	// changes an existing account.
	ModeCreateOnly Mode = "create-only"
	// ModeAdoptOnly only records adoptions, changing nothing in GoTo: it
	// rebuilds a lost state file. Not a configuration value.
	ModeAdoptOnly Mode = "adopt-only"
)

// ParseMode returns the mode with the given name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeSync, ModeCreateUpdate, ModeCreateOnly:
		return m, nil
	}
	return "", fmt.Errorf("unknown policy %q (want sync, create-update or create-only)", s)
}

// Deprovision is what happens to an owned account whose person left scope.
type Deprovision string

// Deprovisioning actions.
const (
	// DeprovisionDisable removes the account's licences and admin roles, so
	// GoTo shows it SUSPENDED; it can be re-enabled.
	DeprovisionDisable Deprovision = "disable"
	// DeprovisionDelete deletes the account. It cannot be undone.
	DeprovisionDelete Deprovision = "delete"
)

// Policy is everything the configuration says about what a plan may contain.
type Policy struct {
	Mode        Mode
	Deprovision Deprovision
	// CreateOnly lists the fields set when an account is created and never updated.
	CreateOnly []Field
	// ManagedLicenses and ManagedAdminRoles are every licence and admin role
	// that some app role maps to. Updates add and remove only these; others an
	// account holds are left alone.
	ManagedLicenses   []string
	ManagedAdminRoles []string
	// DisableSuperUsers allows disabling accounts that hold SUPER_USER.
	DisableSuperUsers bool
	// MaxDisables is the most disables (and deletes) one cycle may apply
	// without approval; a negative value means no limit.
	MaxDisables int
	// MaxDisablesPercent is the same limit as a percentage of owned active
	// accounts; 100 or more means no limit.
	MaxDisablesPercent float64
	// Retry is the back-off and quarantine of changes that failed.
	Retry RetryPolicy
	// Drift is what a reconcile does with drift; "" repairs it.
	Drift DriftPolicy
}

// DefaultPolicy returns the policy with DESIGN §4's defaults.
func DefaultPolicy() Policy {
	return Policy{Mode: ModeSync, Deprovision: DeprovisionDisable, MaxDisables: 50, MaxDisablesPercent: 20}
}

// applyMode is the one place the policy filters the plan: changes the mode
// forbids become skips that say so.
func applyMode(mode Mode, changes []Change, skips []Change) ([]Change, []Change) {
	if mode == ModeSync || mode == "" {
		return changes, skips
	}
	kept := changes[:0]
	for _, c := range changes {
		switch {
		case c.Kind == KindForget:
			// Dropping the record of a deleted account changes nothing in GoTo.
		case mode == ModeAdoptOnly:
			if c.Kind != KindAdopt {
				skips = append(skips, policySkip(c, mode))
				continue
			}
			c.Fields, c.Licenses, c.AdminRoles = nil, nil, nil
		case c.Kind == KindCreate:
		case c.Kind == KindAdopt && mode == ModeCreateOnly:
			// Adoption records ownership; under create-only it changes nothing.
			c.Fields, c.Licenses, c.AdminRoles = nil, nil, nil
		case c.Kind == KindAdopt || c.Kind == KindUpdate || c.Kind == KindEnable:
			if mode == ModeCreateOnly {
				skips = append(skips, policySkip(c, mode))
				continue
			}
		default: // disable, delete
			skips = append(skips, policySkip(c, mode))
			continue
		}
		kept = append(kept, c)
	}
	return kept, skips
}

func policySkip(c Change, mode Mode) Change {
	return Change{Kind: KindSkip, EntraID: c.EntraID, UPN: c.UPN, GoToKey: c.GoToKey, Prior: c.Prior,
		Reason: fmt.Sprintf("policy %s does not %s (would %s: %s)", mode, c.Kind, c.Kind, c.Reason)}
}
