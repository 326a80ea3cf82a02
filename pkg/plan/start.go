package plan

import "time"

// Opening is what a cycle knows before it reads anything: what people
// asked of it, on the command line or through the state file.
type Opening struct {
	// DryRun: `g2msync plan`, explain and provision --dry-run.
	DryRun bool
	// AdoptOnly: `g2msync state rebuild`, which records ownership and
	// changes nothing else.
	AdoptOnly bool
	// InitialSync was asked on the command line.
	InitialSync bool
	// Paused is the pause in force, as it reads; "" when none.
	Paused string
	// FullSyncAsked is who asked for a full sync on the next cycle (`run
	// --once --initial-sync` while the daemon held the file); "" when no
	// one did.
	FullSyncAsked string
	// ReconcileEvery is goto.reconcile_interval: the longest time between
	// two cycles that list every GoTo account to find drift; 0 never
	// reconciles. Reconciled is when the last such cycle that succeeded
	// began (zero: never), Now when this one begins.
	ReconcileEvery time.Duration
	Reconciled     time.Time
	Now            time.Time
}

// Start is how the cycle begins.
type Start struct {
	// Run is false when the cycle reads and changes nothing; Why says why.
	Run bool
	Why string
	// Full makes it a full sync: every GoTo account listed, owned records
	// refreshed from GoTo, everyone re-matched.
	Full bool
	// Settle says that a full-sync request is met once this cycle succeeds.
	Settle bool
	// Reconcile makes the cycle list every GoTo account and plan each owned
	// one from what GoTo holds, so that drift made out of band is found
	// (and repaired or reported, as goto.drift says). A full sync does that
	// and more; it never needs Reconcile too.
	Reconcile bool
}

// Begin decides how a cycle begins.
//
// A pause stops cycles that would write, and no others: a dry run still
// shows what the next cycle would do once resumed, and a rebuild of the
// state file only records ownership. A requested full sync is the next
// cycle's whatever else it was asked, and the dry run that shows that
// cycle is a full one too, or `plan` would print another cycle than the
// one that runs; only a cycle that writes settles the request. A
// reconcile is due once ReconcileEvery has passed since the last, or when
// none was ever recorded; a dry run shows it too, for the same reason.
func Begin(o Opening) Start {
	s := Start{Run: true, Full: o.InitialSync}
	if o.AdoptOnly {
		return s
	}
	if o.Paused != "" && !o.DryRun {
		return Start{Why: o.Paused}
	}
	if o.FullSyncAsked != "" {
		s.Full = true
		s.Settle = !o.DryRun
	}
	s.Reconcile = !s.Full && o.ReconcileEvery > 0 && (o.Reconciled.IsZero() || !o.Now.Before(o.Reconciled.Add(o.ReconcileEvery)))
	return s
}
