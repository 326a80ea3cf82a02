// Package gotosim is an HTTPS simulator of GoTo's OAuth service and Admin
// API, for tests, the demo and the benchmark. It holds one GoTo account (users,
// licences with seats, admins) in memory, speaks GoTo's wire formats, and
// has knobs for latency, rate limiting, injected faults and revoked tokens. It
// imports nothing of g2msync but pkg/sim/simtls.
//
// It is strict in what it sends (the documented shapes, big JSON-number keys)
// and in what it accepts (unknown request fields are refused), so that the
// client, which must be liberal, is tested against the real contract. The
// research behind each choice is at the top of gotosim.go.
package gotosim
