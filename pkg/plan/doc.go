// Package plan is the pure heart of g2msync: it compares the accounts the
// directory says should exist with the accounts g2msync owns, and the GoTo
// accounts it could adopt, and returns the changes that would make GoTo match.
//
// Compute does no I/O, no logging and no metrics. Skips come back as values
// with reasons; the engine logs, counts and audits them. Policy, ownership and
// the safety gates run here, on the computed plan, in that order, so nothing
// downstream re-decides.
//
// For each person (keyed by Entra object id) the planner decides:
//
//	directory (in scope)   owned record        GoTo account by email   →  change
//	────────────────────   ─────────────────   ─────────────────────   ─────────────────────────────
//	mappable               none                none                     create
//	mappable               none                one, unowned, matched    adopt (+ changed fields)
//	mappable               none                owned by someone else    skip (email in use)
//	mappable               active              —                        update (changed fields only)
//	mappable               disabled by us      —                        enable (licences back)
//	not mappable / clash   any                 —                        skip (reason), nothing touched
//	out of scope / absent  active              —                        disable (or delete), gated
//	out of scope / absent  active SUPER_USER   —                        skip unless allowed
//	out of scope / absent  disabled by us      —                        nothing
//
// Then the policy drops what it forbids (create-update: no disables;
// create-only: creates and bare adoptions only), and the gates run: no
// in-scope users while g2msync owns active accounts aborts the plan, and more
// disables than the thresholds allow are staged for a person to release.
//
// It imports nothing of g2msync.
package plan
