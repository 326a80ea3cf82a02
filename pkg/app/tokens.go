package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/g2msync/g2msync/pkg/state"
)

// tokenStore hands the GoTo client the state file of the running cycle, so
// rotated refresh tokens are committed there before they are used.
type tokenStore struct {
	mu sync.Mutex
	st *state.Store
	// live is the store of a cycle running in this process, which a run
	// that does not hold the file (explain) shares.
	live *Live
	// stored reads the kept refresh token in a short read when no state
	// file is held; keep opens a file only to keep a rotated token then
	// (the state file, or before the first sync a token-only file).
	stored func(context.Context) (string, error)
	keep   func() (*state.Store, error)
}

// errNoState: a token rotated outside a cycle with nowhere to keep it.
var errNoState = errors.New("the state file is not open; GoTo tokens are only refreshed during a command that opened it")

func (t *tokenStore) set(st *state.Store) {
	t.mu.Lock()
	t.st = st
	t.mu.Unlock()
}

// RefreshToken implements gotomeeting.TokenStore.
func (t *tokenStore) RefreshToken(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st != nil {
		return t.st.RefreshToken(ctx)
	}
	if t.stored != nil {
		return t.stored(ctx) // "" before the first sync: the configured one
	}
	return "", nil
}

// SaveRefreshToken implements gotomeeting.TokenStore.
func (t *tokenStore) SaveRefreshToken(ctx context.Context, token string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st != nil {
		return t.st.SaveRefreshToken(ctx, token)
	}
	if t.live != nil {
		if ok, err := t.live.Use(func(st *state.Store) error { return st.SaveRefreshToken(ctx, token) }); ok {
			return err
		}
	}
	if t.keep == nil {
		return errNoState
	}
	st, err := t.keep()
	if err != nil {
		return fmt.Errorf("keep the refresh token GoTo rotated: %w", err)
	}
	defer st.Close()
	return st.SaveRefreshToken(ctx, token)
}
