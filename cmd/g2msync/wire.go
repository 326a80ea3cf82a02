package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"golang.org/x/term"

	application "github.com/g2msync/g2msync/pkg/app"
	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/directory"
	"github.com/g2msync/g2msync/pkg/directory/graph"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/notify"
	"github.com/g2msync/g2msync/pkg/redact"
)

// app is everything built from one configuration: the application layer's
// Service, and what the daemon alone needs beside it (the mail server's
// TLS, the CAs a reload trusts again).
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *metrics.Metrics
	svc     *application.Service
	// source is the Graph reader the Service reads Entra with; `check`
	// asks it its own questions.
	source *graph.Source
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
	// live, when set, is the running-cycle share of the app this one
	// succeeds on a reload.
	live *application.Live
}

func (m *Main) newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return m.logger(cfg, w, slog.LevelDebug)
}

// quietLogger is the logger of a command a person runs and reads (plan,
// explain, check, …): it prints what it found itself, and its error once,
// so only warnings and errors are logged beside it, unless log.level asks
// for debug.
func (m *Main) quietLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return m.logger(cfg, w, slog.LevelWarn)
}

// logger logs at log.level, but not below floor (debug: as configured).
func (m *Main) logger(cfg *config.Config, w io.Writer, floor slog.Level) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	if level > slog.LevelDebug {
		level = max(level, floor)
	}
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

// commandApp builds the app of a command a person runs and reads (plan,
// explain, licenses, …): the configuration at cfgPath, warnings and errors
// logged beside what the command prints.
func (m *Main) commandApp(cfgPath string) (*app, error) {
	cfg, err := m.loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	return m.newApp(cfg, m.quietLogger(cfg, m.Stderr), metrics.New(version), appOptions{})
}

// newApp builds the Service of cfg, with Microsoft Graph as its directory.
func (m *Main) newApp(cfg *config.Config, log *slog.Logger, met *metrics.Metrics, o appOptions) (*app, error) {
	mapper, err := application.NewMapper(cfg)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, metrics: met, roots: o.roots}
	for _, w := range warnings(cfg) {
		log.Warn("configuration warning", "key", w.Key, logkey.Reason, w.Msg)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if o.roots != nil {
		base.TLSClientConfig = &tls.Config{RootCAs: o.roots, MinVersion: tls.VersionTLS12}
		a.mailTLS = &tls.Config{RootCAs: o.roots, MinVersion: tls.VersionTLS12}
	}
	graphClient := &http.Client{Transport: met.Transport("graph", base), Timeout: cfg.Entra.Timeout.D()}
	if a.source, err = newGraph(cfg, mapper.Attributes(), graphClient, log); err != nil {
		return nil, err
	}
	// A mapping test may read attributes the mappings in force do not.
	finderFor := func(attrs []string) (directory.Finder, error) { return newGraph(cfg, attrs, graphClient, log) }
	a.svc, err = application.New(cfg, application.Deps{Directory: a.source, Mapper: mapper, Transport: base, Metrics: met, Log: log, Now: m.now, Live: o.live,
		FinderFor: finderFor})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// newGraph builds the Microsoft Graph reader of cfg for the attributes the
// mappings need: the one place the Graph SDK is wired.
func newGraph(cfg *config.Config, attrs []string, hc *http.Client, log *slog.Logger) (*graph.Source, error) {
	authority, graphBase := cfg.Entra.Endpoints()
	gcfg := graph.Config{
		TenantID: cfg.Entra.TenantID, ClientID: cfg.Entra.ClientID,
		Cloud:              graph.Cloud{AuthorityHost: authority, GraphBaseURL: strings.TrimSuffix(graphBase, "/") + "/v1.0"},
		ServicePrincipalID: cfg.Entra.ServicePrincipalID, AppID: cfg.Entra.AppID,
		NestedGroups: cfg.Entra.NestedGroups, Attributes: attrs, HTTPClient: hc, Logger: log.With(logkey.API, "graph"),
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
	src, err := graph.New(gcfg)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	return src, nil
}

// cycle runs one cycle through the Service (the daemon's Cycle).
func (a *app) cycle(ctx context.Context, opts engine.Options) (*daemon.Report, error) {
	return a.svc.Cycle(ctx, opts)
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
	t := notify.NewTracker(m.Send, n.FailedCycles, a.log)
	if t.SeatsFreeBelow, err = notify.ParseSeatsThreshold(n.SeatsFreeBelow); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return t, nil
}
