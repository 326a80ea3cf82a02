// Package logkey names the structured log attributes every package uses, so
// that one vocabulary runs through the logs: filter on cycle_id, entra_id or
// op and get the whole story.
package logkey

// Attribute keys, snake_case.
const (
	CycleID    = "cycle_id"
	Op         = "op" // create, adopt, update, disable, enable, delete, skip
	EntraID    = "entra_id"
	UPN        = "upn"
	GoToKey    = "goto_key"
	Email      = "email"
	Fields     = "fields"
	Reason     = "reason"
	API        = "api" // graph, goto
	Method     = "method"
	Path       = "path"
	Status     = "status"
	Attempt    = "attempt"
	DurationMS = "duration_ms"
	Error      = "error"
	Outcome    = "outcome"
	Count      = "count"
	Incident   = "incident" // a notification's incident: auth, failing, quarantine, staged, accounts
)
