package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/notify"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/redact"
	"github.com/g2msync/g2msync/pkg/state"
)

// app is everything built from one configuration: the clients live as long
// as it does (so access tokens are reused across cycles); the state file is
// opened per cycle, so `report` and `status` can read it in between.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics.Metrics
	mapper  *mapping.Mapper
	source  *graph.Source
	gotoc   *gotomeeting.Client
	gotoCfg gotomeeting.Config
	tokens  *tokenStore
	// live is the state file of the cycle running in this process, for
	// readers that must not wait for it.
	live application.Live
	// pictures keeps the directory picture decoded between cycles.
	pictures *engine.PictureCache
	// progress, if set, is told of each cycle's progress.
	progress func(done, total int)
	// mailTLS, when set, is the TLS configuration for the mail server (tests).
	mailTLS *tls.Config
	// roots are the CAs the app was built to trust (nil: the system's), so
	// a reload builds its successor the same way.
	roots *x509.CertPool
}

// appOptions let the demo and tests point the clients at simulators.
type appOptions struct {
	// roots, when set, are the only CAs trusted for Graph, Entra, GoTo and
	// the mail server.
	roots *x509.CertPool
}

func (m *Main) newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	text := cfg.Log.Format == "text"
	if cfg.Log.Format == "auto" {
		f, ok := w.(*os.File)
		text = ok && term.IsTerminal(int(f.Fd()))
	}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if text {
		h = slog.NewTextHandler(w, opts)
	}
	// The packages that read replies scrub what they quote; this is the
	// last guard for any text that reached a log line another way.
	return slog.New(redact.Handler(h, cfg.SecretValues()...))
}

func (m *Main) newApp(cfg *config.Config, log *slog.Logger, met *metrics.Metrics, o appOptions) (*app, error) {
	mapper, err := mapping.New(mappingConfig(cfg))
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, metrics: met, mapper: mapper, roots: o.roots, pictures: &engine.PictureCache{}}
	a.tokens = &tokenStore{keep: func() (*state.Store, error) {
		// A token rotated outside a cycle: kept in the state file, or, before
		// the first sync, in a file of its own that no cycle takes for state.
		opts := state.Options{TokensOnly: true, Timeout: 10 * time.Second}
		if _, err := os.Lstat(cfg.StatePath); err == nil {
			opts = state.Options{CheckOnly: true, Binding: binding(cfg), Timeout: 10 * time.Second}
		}
		return state.Open(cfg.StatePath, opts)
	}, live: &a.live, stored: func(ctx context.Context) (tok string, err error) {
		err = a.readState(10*time.Second, func(st *state.Store) (err error) { tok, err = st.RefreshToken(ctx); return err })
		if errors.Is(err, errNoStateFile) {
			return "", nil
		}
		return tok, err
	}}
	for _, w := range warnings(cfg) {
		log.Warn("configuration warning", "key", w.Key, logkey.Reason, w.Msg)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if o.roots != nil {
		base.TLSClientConfig = &tls.Config{RootCAs: o.roots, MinVersion: tls.VersionTLS12}
		a.mailTLS = &tls.Config{RootCAs: o.roots, MinVersion: tls.VersionTLS12}
	}
	authority, graphBase := cfg.Entra.Endpoints()
	gcfg := graph.Config{
		TenantID: cfg.Entra.TenantID, ClientID: cfg.Entra.ClientID,
		Cloud:              graph.Cloud{AuthorityHost: authority, GraphBaseURL: strings.TrimSuffix(graphBase, "/") + "/v1.0"},
		ServicePrincipalID: cfg.Entra.ServicePrincipalID, AppID: cfg.Entra.AppID,
		NestedGroups: cfg.Entra.NestedGroups, Attributes: mapper.Attributes(),
		HTTPClient: &http.Client{Transport: met.Transport("graph", base), Timeout: cfg.Entra.Timeout.D()},
		Logger:     log.With(logkey.API, "graph"),
	}
	switch cfg.Entra.AuthMethod() {
	case "client_secret":
		gcfg.ClientSecret = cfg.Entra.ClientSecret.Value()
	case "certificate":
		// Read and checked when the configuration loaded.
		gcfg.Certificates, gcfg.PrivateKey = cfg.Entra.Certificate.Chain(), cfg.Entra.Certificate.PrivateKey()
	case "managed_identity":
		gcfg.ManagedIdentity, gcfg.ManagedIdentityClientID = true, cfg.Entra.ManagedIdentityClientID
	case "workload_identity":
		gcfg.WorkloadIdentity, gcfg.WorkloadIdentityTokenFile = true, cfg.Entra.FederatedTokenFile
	}
	if a.source, err = graph.New(gcfg); err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	authURL := strings.TrimSuffix(cfg.GoTo.AuthURL, "/")
	a.gotoCfg = gotomeeting.Config{
		APIBaseURL: cfg.GoTo.APIBaseURL, TokenURL: authURL + "/oauth/token", AuthURL: authURL + "/oauth/authorize",
		AccountKey: cfg.GoTo.AccountKey, ClientID: cfg.GoTo.ClientID, ClientSecret: cfg.GoTo.ClientSecret.Value(),
		RefreshToken: cfg.GoTo.RefreshToken.Value(), PAT: cfg.GoTo.PersonalAccessToken.Value(),
		Username: cfg.GoTo.Username, Password: cfg.GoTo.Password.Value(),
		TokenStore: a.tokens, RateLimit: cfg.GoTo.RateLimitPerSecond, MaxRetries: clientRetries(cfg.GoTo.MaxRetries),
		RequestTimeout: cfg.GoTo.Timeout.D(),
		HTTPClient:     &http.Client{Transport: met.Transport("goto", base)},
		Logger:         log.With(logkey.API, "goto"),
	}
	a.gotoc, err = gotomeeting.New(a.gotoCfg)
	if err != nil {
		return nil, fmt.Errorf("goto: %w", err)
	}
	return a, nil
}

// clientRetries turns goto.max_retries, where 0 means no retry (its
// default, 4, is the configuration's), into the client's setting, where a
// zero is the client's own default and no retry is negative.
func clientRetries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// openState opens the state file for a cycle, bound to this configuration.
// mustExist refuses to create it (see state.Options.MustExist).
func (a *app) openState(readOnly, mustExist bool) (*state.Store, error) {
	return state.Open(a.cfg.StatePath, state.Options{ReadOnly: readOnly, MustExist: mustExist, Binding: binding(a.cfg), Timeout: 10 * time.Second})
}

func (a *app) engine(st engine.Store, dryRun bool) *engine.Engine {
	e := &engine.Engine{Source: a.source, Mapper: a.mapper, Reader: a.gotoc, Store: st, Policy: planPolicy(a.cfg, a.mapper),
		FullReadInterval: a.cfg.Entra.FullReadInterval.D(), Pictures: a.pictures, BatchSize: a.cfg.GoTo.CreateBatchSize, InFlight: a.cfg.GoTo.MaxInFlight, SuppressEmail: a.cfg.GoTo.SuppressWelcomeEmail, Logger: a.log,
		Calls: a.metrics.Calls, Progress: a.progress}
	if !dryRun {
		e.Writer = a.gotoc // dry runs never get the write side
	}
	return e
}

// cycle runs one cycle with the state file open for its duration.
func (a *app) cycle(ctx context.Context, opts engine.Options) (*daemon.Report, error) {
	if opts.DryRun {
		return a.dryRun(ctx, opts)
	}
	// Only a first or full sync may start a state file; a regular cycle that
	// finds none has lost it.
	st, err := a.openState(false, !opts.InitialSync && !opts.AdoptOnly)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	a.live.Set(st) // readers and actions in this process use it beside the cycle
	defer a.live.Set(nil)
	if p, err := st.Paused(); err != nil || (p != nil && !opts.AdoptOnly) {
		// A person paused provisioning: the cycle reads and changes nothing.
		return &daemon.Report{Paused: p}, err
	}
	full, err := st.FullSyncRequested()
	if err != nil {
		return nil, err
	}
	if full != nil && !opts.AdoptOnly {
		// `run --once --initial-sync` while the daemon runs asked for it.
		a.log.Info("full sync requested", "by", full.By, "at", full.At)
		opts.InitialSync = true
	}
	a.tokens.set(st)
	defer a.tokens.set(nil)
	res, err := a.engine(st, false).Run(ctx, opts)
	if full != nil && err == nil {
		if cerr := st.RequestFullSync(nil); cerr != nil {
			return nil, cerr
		}
	}
	rep := &daemon.Report{Result: res, AuthFailure: authFailure(err)}
	if res != nil && res.Plan != nil {
		rep.StageReason = res.Plan.StageReason
	}
	a.fillReport(st, rep)
	if n, perr := st.PruneAudit(time.Now().Add(-a.cfg.AuditRetention.D())); perr != nil {
		a.log.Warn("prune the provisioning log", logkey.Error, perr.Error())
	} else if n > 0 {
		a.log.Info("pruned old provisioning log entries", logkey.Count, n)
	}
	return rep, err
}

// dryRun plans without changing GoTo. It never creates or binds the state
// file: before the first sync there is none, and the plan starts from
// nothing owned. An existing file is opened writable for one reason: GoTo
// may rotate the refresh token during the plan's reads, and the rotated
// token must be kept or the next cycle is locked out. The engine itself
// writes nothing in a dry run.
func (a *app) dryRun(ctx context.Context, opts engine.Options) (*daemon.Report, error) {
	st, err := a.openExisting()
	if err != nil {
		return nil, err
	}
	var store engine.Store = emptyStore{}
	if st != nil {
		defer st.Close()
		a.tokens.set(st)
		defer a.tokens.set(nil)
		store = readOnlyStore{st}
	}
	res, err := a.engine(store, true).Run(ctx, opts)
	return &daemon.Report{Result: res}, err
}

// openExisting opens the state file for `plan` and `check`, or returns nil
// when there is none yet: they never create it, nor bind it to this
// configuration (a `check` with a mistyped account key would bind the file
// for good).
func (a *app) openExisting() (*state.Store, error) {
	st, err := state.Open(a.cfg.StatePath, state.Options{CheckOnly: true, Binding: binding(a.cfg), Timeout: 10 * time.Second})
	if errors.Is(err, state.ErrNoState) {
		return nil, nil
	}
	return st, err
}

func (a *app) fillReport(st *state.Store, rep *daemon.Report) {
	if rep.Result != nil && rep.Result.Owned != nil {
		rep.OwnedActive, rep.OwnedDisabled = rep.Result.Owned.Active, rep.Result.Owned.Disabled
	} else if active, disabled, err := st.OwnedCounts(); err == nil {
		rep.OwnedActive, rep.OwnedDisabled = active, disabled
	}
	rep.Staged, _ = st.Staged()
	rep.Deferred, _ = st.Deferred()
	rep.Failures, _ = st.Failures()
}

// tokenStore hands the GoTo client the state file of the running cycle, so
// rotated refresh tokens are committed there before they are used.
type tokenStore struct {
	mu sync.Mutex
	st *state.Store
	// live is the store of a cycle running in this process, which a run
	// that does not hold the file (explain) shares.
	live *application.Live
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

// readOnlyStore lets a dry run read the state file and refuses every write,
// so a mistake in the engine cannot turn a plan into a change.
type readOnlyStore struct{ st *state.Store }

var errReadOnly = errors.New("dry run: the state file is read-only")

func (r readOnlyStore) Records() ([]plan.Record, error)    { return r.st.Records() }
func (r readOnlyStore) Intents() ([]state.Intent, error)   { return r.st.Intents() }
func (r readOnlyStore) Failures() ([]state.Failure, error) { return r.st.Failures() }
func (r readOnlyStore) Skips() (map[string]string, error)  { return r.st.Skips() }
func (r readOnlyStore) Staged() ([]state.Staged, error)    { return r.st.Staged() }
func (readOnlyStore) WriteIntents([]state.Intent) error    { return errReadOnly }
func (readOnlyStore) Commit(...state.Outcome) error        { return errReadOnly }
func (readOnlyStore) SetSkips(map[string]string) error     { return errReadOnly }
func (readOnlyStore) SetStaged([]state.Staged) error       { return errReadOnly }
func (readOnlyStore) SaveCycle(state.Cycle) error          { return errReadOnly }
func (r readOnlyStore) ViewDirectoryPicture(fn func(links, body []byte) error) error {
	return r.st.ViewDirectoryPicture(fn)
}
func (readOnlyStore) SaveDirectoryPicture([]byte, []byte) error { return errReadOnly }

// emptyStore is the state of a dry run before the first sync: nothing
// owned, nothing failed, nothing to write.
type emptyStore struct{}

func (emptyStore) Records() ([]plan.Record, error)       { return nil, nil }
func (emptyStore) Intents() ([]state.Intent, error)      { return nil, nil }
func (emptyStore) Failures() ([]state.Failure, error)    { return nil, nil }
func (emptyStore) Skips() (map[string]string, error)     { return nil, nil }
func (emptyStore) Staged() ([]state.Staged, error)       { return nil, nil }
func (emptyStore) Deferred() ([]state.Deferred, error)   { return nil, nil }
func (emptyStore) Approvals() (map[string]string, error) { return nil, nil }
func (emptyStore) WriteIntents([]state.Intent) error     { return errReadOnly }
func (emptyStore) Commit(...state.Outcome) error         { return errReadOnly }
func (emptyStore) SetSkips(map[string]string) error      { return errReadOnly }
func (emptyStore) SetStaged([]state.Staged) error        { return errReadOnly }
func (emptyStore) SetDeferred([]state.Deferred) error    { return errReadOnly }
func (emptyStore) ForgetApprovals([]string) error        { return errReadOnly }
func (emptyStore) SaveCycle(state.Cycle) error           { return errReadOnly }
func (emptyStore) ViewDirectoryPicture(fn func(links, body []byte) error) error {
	return fn(nil, nil)
}
func (emptyStore) SaveDirectoryPicture([]byte, []byte) error { return errReadOnly }

var _ engine.Store = emptyStore{}

// gotoConfig returns the GoTo client's configuration, for the login flow.
func (a *app) gotoConfig() gotomeeting.Config { return a.gotoCfg }

// authFailure says what to do when a cycle failed because Entra or GoTo
// refused g2msync's credentials, or "" for any other failure.
func authFailure(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, graph.ErrCredentials):
		return "Entra refused g2msync's credentials: " + err.Error()
	case errors.Is(err, gotomeeting.ErrRefreshTokenRejected), errors.Is(err, gotomeeting.ErrNotLoggedIn):
		return "GoTo refused g2msync's refresh token; an administrator must run `g2msync login goto`. " + err.Error()
	case errors.Is(err, gotomeeting.ErrUnauthorized), errors.Is(err, gotomeeting.ErrForbidden):
		return "GoTo refused g2msync's credentials or the admin's role: " + err.Error() +
			"; check goto.client_id and its secret, the admin's SUPER_USER or MANAGE_USERS role, then `g2msync check`"
	}
	return ""
}

// tracker returns the notification tracker of the configuration, or nil
// when no mail server is configured.
func (a *app) tracker() (*notify.Tracker, error) {
	n := a.cfg.Notify
	if n.SMTP.Host == "" {
		return nil, nil
	}
	m, err := notify.NewMailer(notify.Config{Host: n.SMTP.Host, Port: n.SMTP.Port, Username: n.SMTP.Username,
		Password: n.SMTP.Password.Value(), TLS: n.SMTP.TLS, From: n.From, To: n.To, Timeout: n.SMTP.Timeout.D(), TLSConfig: a.mailTLS})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return notify.NewTracker(m.Send, n.FailedCycles, a.log), nil
}

// Approvals implements engine.Store.
func (r readOnlyStore) Approvals() (map[string]string, error) { return r.st.Approvals() }

// Deferred implements engine.Store.
func (r readOnlyStore) Deferred() ([]state.Deferred, error) { return r.st.Deferred() }

// ForgetApprovals implements engine.Store; a dry run keeps every approval.
func (readOnlyStore) ForgetApprovals([]string) error { return errReadOnly }

// SetDeferred implements engine.Store.
func (readOnlyStore) SetDeferred([]state.Deferred) error { return errReadOnly }
