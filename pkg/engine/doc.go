// Package engine runs one provisioning cycle, as a recipe:
//
//	read the directory → map → recover interrupted creates → load what we own →
//	find adoptable GoTo accounts → plan (policy, protection, gates) →
//	stop here if dry run → apply each change, committing each outcome →
//	record the cycle.
//
// A read error aborts before anything is written. One person's failure is
// recorded and retried next cycle while the others go on; authentication
// failures and outages stop the cycle early instead of hammering the API.
// Dry runs are given only the read side of the target, so no write is reachable.
package engine
