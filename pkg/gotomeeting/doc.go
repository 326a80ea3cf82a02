// Package gotomeeting is the target side: a client of GoTo's OAuth service and
// Admin API that lists, creates, updates, disables, re-enables and deletes
// GoToMeeting accounts within the API's rate limit.
//
// Keys are strings everywhere: GoTo documents keys longer than an int64 holds.
// The client is liberal in what it accepts (any 2xx, keys as JSON strings or
// numbers, both of GoTo's error body shapes) and turns failures into the
// sentinel errors below so that callers branch with errors.Is, never on text.
package gotomeeting
