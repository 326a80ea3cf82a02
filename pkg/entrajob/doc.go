// Package entrajob reads the provisioning job of Entra's own connector (a
// synchronizationJob and its synchronizationSchema, from Microsoft Graph or
// from the file the portal's schema editor downloads) and translates it
// into g2msync configuration: attribute mappings into mapping expressions,
// matching attributes into matching, scoping filters into scope, the
// object mapping's flow types into the policy. Everything it cannot carry
// over is listed with the reason, never dropped silently.
//
// It is pure: no I/O, no Graph SDK. It imports config (the keys it writes),
// mapping (what the expression language and the scoping operators accept)
// and directory (the app roles); pkg/app reads Graph and calls it.
package entrajob
