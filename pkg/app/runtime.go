package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/mapping"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/state"
)

// Directory is what the application layer reads of Entra: the whole
// assigned picture for a cycle (a directory.DeltaSource follows changes),
// named people for provision and explain, and the enterprise app itself.
// cmd/g2msync wires Microsoft Graph (pkg/directory/graph); the application
// layer never imports the Graph SDK.
type Directory interface {
	directory.Source
	directory.Finder
	App(ctx context.Context) (directory.App, error)
}

// Deps are the parts a Service is built from that the configuration does
// not give: the directory reader, the HTTP transport (its trusted CAs), the
// metrics, the clock and the logger.
type Deps struct {
	// Directory is built by the caller from Mapper's attributes (NewMapper).
	Directory Directory
	Mapper    *mapping.Mapper
	// Transport carries the GoTo client's requests; nil is
	// http.DefaultTransport.
	Transport http.RoundTripper
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Live, when set, is shared with the Service this one succeeds (a
	// reload): the console built on the first reads beside the cycles the
	// second runs.
	Live *Live
	// FinderFor, when set, builds a reader of named people that fetches
	// attrs: a mapping test whose expressions read attributes Directory
	// does not fetch reads the people with it.
	FinderFor func(attrs []string) (directory.Finder, error)
}

// runtime is what a Service built by New holds besides the state file: the
// clients live as long as it does, so access tokens are reused across
// cycles; the state file is opened per operation.
type runtime struct {
	cfg      *config.Config
	mapper   *mapping.Mapper
	dir      Directory
	gotoc    *gotomeeting.Client
	gotoCfg  gotomeeting.Config
	tokens   *tokenStore
	metrics  *metrics.Metrics
	pictures *engine.PictureCache
	records  *engine.RecordCache
	mapped   *engine.MapCache
	console  consoleReads
	// finderFor is Deps.FinderFor.
	finderFor func(attrs []string) (directory.Finder, error)
}

// NewMapper builds the mapper of cfg, whose attributes the directory reader
// is built to fetch.
func NewMapper(cfg *config.Config) (*mapping.Mapper, error) {
	return mapping.New(mappingConfig(cfg))
}

// New builds the Service of one configuration: every operation an
// administrator has, from every door.
func New(cfg *config.Config, d Deps) (*Service, error) {
	if d.Directory == nil || d.Mapper == nil {
		return nil, errors.New("app: a Service needs a directory and a mapper")
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New("")
	}
	if d.Live == nil {
		d.Live = &Live{}
	}
	s := &Service{StatePath: cfg.StatePath, Binding: Binding(cfg), Now: d.Now, Log: d.Log, Live: d.Live}
	rt := &runtime{cfg: cfg, mapper: d.Mapper, dir: d.Directory, metrics: d.Metrics, pictures: &engine.PictureCache{},
		records: &engine.RecordCache{}, mapped: &engine.MapCache{}, finderFor: d.FinderFor}
	rt.console = newConsoleReads()
	rt.tokens = &tokenStore{keep: func() (*state.Store, error) {
		// A token rotated outside a cycle: kept in the state file, or, before
		// the first sync, in a file of its own that no cycle takes for state.
		opts := state.Options{TokensOnly: true, Timeout: 10 * time.Second}
		if _, err := os.Lstat(cfg.StatePath); err == nil {
			opts = state.Options{CheckOnly: true, Binding: Binding(cfg), Timeout: 10 * time.Second}
		}
		return state.Open(cfg.StatePath, opts)
	}, live: s.Live, stored: func(ctx context.Context) (tok string, err error) {
		err = s.readState(10*time.Second, func(st *state.Store) (err error) { tok, err = st.RefreshToken(ctx); return err })
		if errors.Is(err, ErrNoStateFile) {
			return "", nil
		}
		return tok, err
	}}
	authURL := strings.TrimSuffix(cfg.GoTo.AuthURL, "/")
	rt.gotoCfg = gotomeeting.Config{
		APIBaseURL: cfg.GoTo.APIBaseURL, TokenURL: authURL + "/oauth/token", AuthURL: authURL + "/oauth/authorize",
		AccountKey: cfg.GoTo.AccountKey, ClientID: cfg.GoTo.ClientID, ClientSecret: cfg.GoTo.ClientSecret.Value(),
		RefreshToken: cfg.GoTo.RefreshToken.Value(), PAT: cfg.GoTo.PersonalAccessToken.Value(),
		Username: cfg.GoTo.Username, Password: cfg.GoTo.Password.Value(),
		TokenStore: rt.tokens, RateLimit: cfg.GoTo.RateLimitPerSecond, MaxRetries: clientRetries(cfg.GoTo.MaxRetries),
		RequestTimeout: cfg.GoTo.Timeout.D(),
		HTTPClient:     &http.Client{Transport: d.Metrics.Transport("goto", d.Transport)},
		Logger:         s.log().With(logkey.API, "goto"),
	}
	var err error
	if rt.gotoc, err = gotomeeting.New(rt.gotoCfg); err != nil {
		return nil, fmt.Errorf("goto: %w", err)
	}
	s.rt = rt
	return s, nil
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

// errNoRuntime: an operation that reads Entra or GoTo on a Service built
// without New (one that only takes operator actions on a state file).
var errNoRuntime = errors.New("app: this Service was built for state-file actions only (use app.New)")

// Config is the configuration the Service was built from; nil for an
// action-only Service.
func (s *Service) Config() *config.Config {
	if s.rt == nil {
		return nil
	}
	return s.rt.cfg
}

// Mapper is the configuration's mapper.
func (s *Service) Mapper() *mapping.Mapper {
	if s.rt == nil {
		return nil
	}
	return s.rt.mapper
}

// GoTo is the GoTo client, shared by every operation so that its access
// token and its pace are one.
func (s *Service) GoTo() *gotomeeting.Client {
	if s.rt == nil {
		return nil
	}
	return s.rt.gotoc
}

// KeepPictures says whether the directory picture, the owned records and
// the mapped accounts are kept between cycles (the daemon's) or read and
// mapped afresh each time (a run of one cycle, which would only hold the
// memory: the mapping cache alone held the whole snapshot through a
// `run --once` cycle's calls, 43 MB at 100,000 people).
func (s *Service) KeepPictures(keep bool) {
	if s.rt == nil {
		return
	}
	if keep {
		s.rt.pictures, s.rt.records, s.rt.mapped = &engine.PictureCache{}, &engine.RecordCache{}, &engine.MapCache{}
	} else {
		s.rt.pictures, s.rt.records, s.rt.mapped = nil, nil, nil
	}
}

// engine builds the engine for one run on st; a dry run never gets the
// write side of GoTo.
func (s *Service) engine(st engine.Store, dryRun bool) *engine.Engine {
	rt := s.rt
	e := &engine.Engine{Source: rt.dir, Mapper: rt.mapper, Reader: rt.gotoc, Store: st, Policy: policy(rt.cfg, rt.mapper),
		FullReadInterval: rt.cfg.Entra.FullReadInterval.D(), Pictures: rt.pictures, Records: rt.records, Mapped: rt.mapped, BatchSize: rt.cfg.GoTo.CreateBatchSize,
		InFlight: rt.cfg.GoTo.MaxInFlight, SuppressEmail: rt.cfg.GoTo.SuppressWelcomeEmail, Logger: s.log(),
		ReadSeats: rt.cfg.Notify.SeatsFreeBelow != "",
		Calls:     rt.metrics.Calls, Progress: s.Progress}
	if !dryRun {
		e.Writer = rt.gotoc
	}
	return e
}

// openCycle opens the state file for a run that writes, bound to this
// configuration; mustExist refuses to create it (state.Options.MustExist).
func (s *Service) openCycle(mustExist bool) (*state.Store, error) {
	return state.Open(s.StatePath, state.Options{MustExist: mustExist, Binding: s.Binding, Timeout: 10 * time.Second})
}

// openExisting opens the state file for `plan` and `check`, or returns nil
// when there is none yet: they never create it, nor bind it to this
// configuration (a `check` with a mistyped account key would bind the file
// for good).
func (s *Service) openExisting() (*state.Store, error) {
	st, err := state.Open(s.StatePath, state.Options{CheckOnly: true, Binding: s.Binding, Timeout: 10 * time.Second})
	if errors.Is(err, state.ErrNoState) {
		return nil, nil
	}
	return st, err
}

// WithTokens runs fn with the existing state file (nil before the first
// sync) held for keeping any refresh token GoTo rotates meanwhile: `check`
// and `login` call GoTo outside a cycle.
func (s *Service) WithTokens(fn func(st *state.Store) error) error {
	st, err := s.openExisting()
	if err != nil {
		return err
	}
	if st == nil {
		return fn(nil)
	}
	defer st.Close()
	s.rt.tokens.set(st)
	defer s.rt.tokens.set(nil)
	return fn(st)
}
