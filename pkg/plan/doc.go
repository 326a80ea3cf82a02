// Package plan is the pure heart of g2msync: it compares the accounts the
// directory says should exist with the accounts g2msync owns, and the GoTo
// accounts it could adopt, and returns the changes that would make GoTo match.
//
// Every decision of a cycle is made here, and only here, so that what
// `g2msync plan` prints is exactly what the next run does. Compute does no
// I/O, no logging and no metrics: what it needs from GoTo (Need says what) is
// read first and passed in; skips and deferrals come back as values with
// reasons, and the engine logs, counts, audits and executes them.
//
// For each person (keyed by Entra object id) the planner decides:
//
//	directory (in scope)   owned record           GoTo account            →  change
//	────────────────────   ────────────────────   ─────────────────────   ─────────────────────────────
//	mappable               none                   none by email            create
//	mappable               none                   one, unowned, matched    adopt (+ changed fields)
//	mappable               none                   owned by someone else    skip (email in use)
//	mappable               active                 —                        update (changed fields only)
//	mappable               disabled by us         —                        enable (licences back)
//	mappable               any                    deleted in GoTo          create (record replaced)
//	not mappable / clash   any                    —                        skip (reason), nothing touched
//	look-alike address     any                    —                        skip (reason), nothing touched
//	out of scope / absent  active                 as recorded              disable (or delete), gated
//	out of scope / absent  active                 SUPER_USER (live)        skip unless allowed
//	out of scope / absent  active                 renamed in GoTo          skip: never on a guess
//	out of scope / absent  any                    deleted in GoTo          forget (drop the record)
//	out of scope / absent  disabled by us         —                        nothing
//
// Then, in this order: the policy drops what it forbids (create-update: no
// disables; create-only: creates and bare adoptions only); SUPER_USER
// protection; back-off (a change that failed before and is not due yet, or
// is quarantined, is deferred); the gates (no in-scope users while g2msync
// owns active accounts aborts the plan; more disables than the thresholds
// allow are staged, except those a person approved, each approval bound to
// its change's Fingerprint); seats (a change that adds a licence with no
// free seat is deferred, and a licence the configuration gives that the
// account lacks aborts); and addresses (no change may leave two GoTo
// accounts with one address).
//
// It imports nothing of g2msync but package address, the one way addresses
// are compared.
package plan
