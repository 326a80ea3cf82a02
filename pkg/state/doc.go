// Package state is g2msync's memory, one bbolt file: the accounts it owns,
// write-ahead intents, failures, staged disables, cycle summaries, the
// provisioning (audit) log and small values such as the rotated GoTo refresh
// token and delta links.
//
// Every applied change is committed in its own transaction as it happens, so
// a crash loses at most the call in flight. The file is bound to one tenant,
// app and GoTo account; pointing it at another is refused rather than mixed.
package state
