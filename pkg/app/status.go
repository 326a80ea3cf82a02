package app

import (
	"fmt"

	"github.com/g2msync/g2msync/pkg/state"
)

// Status is what `status` prints and the daemon serves on /status.
type Status struct {
	Cycles []state.Cycle  `json:"cycles"`
	Staged []state.Staged `json:"staged_disables"`
	// Kept are the operators' keeps, by Entra id: the staged rows among
	// them wait for a release, not an approval (Awaiting).
	Kept     map[string]state.Keep `json:"kept,omitempty"`
	Deferred []state.Deferred      `json:"deferred_changes"`
	Failures []state.Failure       `json:"failing_accounts"`
	Paused   *state.Pause          `json:"paused,omitempty"`
	// Running is where a running cycle is, when the daemon running it
	// answered; nil otherwise.
	Running *Progress `json:"running_cycle,omitempty"`
}

// ReadStatus reads what `status` prints and the daemon serves: the newest
// n cycles, what waits for approval, what is deferred or failing, and the
// pause in force.
func ReadStatus(st *state.Store, n int) (*Status, error) {
	var s Status
	var err error
	if s.Cycles, err = st.Cycles(n); err != nil {
		return nil, fmt.Errorf("read cycles: %w", err)
	}
	if s.Staged, err = st.Staged(); err != nil {
		return nil, fmt.Errorf("read staged disables: %w", err)
	}
	if s.Kept, err = st.Kept(); err != nil {
		return nil, fmt.Errorf("read kept staged changes: %w", err)
	}
	if s.Failures, err = st.Failures(); err != nil {
		return nil, fmt.Errorf("read failures: %w", err)
	}
	if s.Deferred, err = st.Deferred(); err != nil {
		return nil, fmt.Errorf("read deferred changes: %w", err)
	}
	if s.Deferred == nil {
		s.Deferred = []state.Deferred{}
	}
	if s.Paused, err = st.Paused(); err != nil {
		return nil, err
	}
	if s.Cycles == nil {
		s.Cycles = []state.Cycle{}
	}
	if s.Staged == nil {
		s.Staged = []state.Staged{}
	}
	if s.Failures == nil {
		s.Failures = []state.Failure{}
	}
	return &s, nil
}
