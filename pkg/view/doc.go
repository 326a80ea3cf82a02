// Package view holds what g2msync shows a person in text and JSON: plans,
// the on-demand steps of provision and explain, the provisioning log. The
// CLI and the console render the application layer's results with the
// same functions, so the two doors say the same thing the same way.
//
// Every value g2msync did not write (names and addresses from Entra and
// GoTo, GoTo's error messages) goes through Safe before it is printed as
// text; JSON is left exact.
package view
