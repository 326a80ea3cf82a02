// Package app is g2msync's application layer: the operations an
// administrator has, each meaning one thing whichever door it comes in by.
// The CLI (cmd/g2msync), the web console (pkg/console, through the
// adapter cmd/g2msync wires) and the daemon (pkg/daemon runs Service.Cycle
// on its schedule) call the same Service; a door parses its input, names
// the Actor, calls one method and renders the result (pkg/view).
//
// The Service owns how each operation holds the state file and hands GoTo
// tokens on:
//   - a cycle (Cycle) holds it for its run and shares it (Live) with this
//     process's readers and actions, which then never wait for it;
//   - a dry run (plan, explain, provision --dry-run, mapping test) never
//     creates or binds it; explain copies what it needs in one short read
//     and lets it go before reading Graph and GoTo;
//   - a page of the console or a status read takes a short read-only look,
//     bounded so that readers cannot keep a cycle out;
//   - an operator action (pause, resume, retry, approve, full-sync request,
//     login, rebuild) writes its change and its provisioning-log entry
//     (what, who, through which door, why, for whom) in one transaction.
//
// The rules stay in pkg/plan: plan.Begin decides how a cycle begins (a
// pause, a requested full sync), plan.Compute what it does. app reads the
// inputs, calls them and records the result.
//
// app may import the domain and dependency packages (state, plan, config,
// engine, mapping, gotomeeting, directory, …) but not the Graph SDK: the
// Directory is given to New. It must not import cmd/g2msync, pkg/console
// or pkg/daemon: they call it, never the other way round.
package app
