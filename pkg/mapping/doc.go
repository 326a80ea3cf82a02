// Package mapping turns directory users into the accounts the planner wants:
// attribute mappings shape the profile, the assignment's app roles pick
// licences and admin roles, and scoping filters drop people out of scope.
//
// Expressions are deliberately small for now: an attribute name, a quoted
// constant, or a chain `a ?? b ?? "default"` that takes the first non-empty
// value. They sit behind Expr so a richer language can replace the parser
// without touching callers.
package mapping
