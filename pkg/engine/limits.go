package engine

import (
	"fmt"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
)

// The engine's thresholds, in one place. The planner's (the disable gate,
// back-off and quarantine) are in pkg/plan's Policy.
const (
	// outageLimit is how many calls in a row may fail for reasons beyond the
	// person (gotomeeting.Class.Systemic) before the cycle stops and leaves
	// the rest for the next one.
	outageLimit = 5
	// failedCycleMinCalls and failedCycleShare: a cycle that made at least
	// this many calls, more than this share of which failed systemically,
	// failed as a whole (the daemon then backs off).
	failedCycleMinCalls = 10
	failedCycleShare    = 0.5
	// lookupLimit is the number of interrupted creates above which one
	// list of every GoTo account settles them more cheaply than a lookup each.
	lookupLimit = 40
	// listPage is how many accounts one page of the GoTo user list holds.
	listPage = 100
)

// listIsCheaper reports whether listing about accounts GoTo accounts takes
// fewer calls than the given number of single reads: a mass unassignment
// (thousands of accounts a disable may touch) then costs pages, not one
// GET per person.
func listIsCheaper(reads, accounts int) bool {
	return reads > lookupLimit && reads > (accounts+listPage-1)/listPage
}

// errOutage ends execution early; the cycle reports why.
type errOutage struct{ reason string }

func (e errOutage) Error() string { return e.reason }

// stopAfter decides, after each call, whether carrying on makes sense:
// refused credentials fail every later call too, and an outage is not helped
// by hammering the API.
func (c *cycle) stopAfter(err error, outages *int, left int) error {
	cl := gotomeeting.Classify(err)
	switch {
	case err == nil || !cl.Systemic:
		*outages = 0
		return nil
	case cl.Stop:
		return errOutage{fmt.Sprintf("stopping: GoTo refused the credentials (%v); %d changes wait for the next cycle", err, left)}
	}
	*outages++
	if *outages >= outageLimit {
		return errOutage{fmt.Sprintf("stopping: %d GoTo calls in a row failed (last: %v); %d changes wait for the next cycle", *outages, err, left)}
	}
	return nil
}

// mostCallsFailed returns an error when the cycle's calls failed mostly for
// reasons beyond the people concerned.
func (c *cycle) mostCallsFailed() error {
	if c.tried >= failedCycleMinCalls && float64(c.systemic) > failedCycleShare*float64(c.tried) {
		return fmt.Errorf("%d of %d GoTo changes failed for reasons beyond the people concerned (outage, throttling, refused credentials); "+
			"treating the cycle as failed", c.systemic, c.tried)
	}
	return nil
}
