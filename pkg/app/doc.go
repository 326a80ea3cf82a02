// Package app is g2msync's application layer: the operations an
// administrator has, each meaning one thing whichever door it comes in by.
// The CLI (cmd/g2msync), the web console (pkg/console, through the backend
// cmd/g2msync wires) and the daemon call the same Service; a door parses its
// input, names the Actor, calls one method and renders the result.
//
// Each action writes its change to the state file and its provisioning-log
// entry (what, who, through which door, why, for whom) in one transaction:
// both land or neither.
//
// So far the Service holds the operator actions (pause, resume, retry,
// approve) and the read approve selects from; the cycle, plan, provision,
// explain and the console's reads still live in cmd/g2msync and move here
// next (DESIGN.md §2).
//
// app may import the domain and dependency packages (state, plan, config,
// engine, address, logkey, …). It must not import cmd/g2msync, pkg/console
// or pkg/daemon: they call it, never the other way round.
package app
