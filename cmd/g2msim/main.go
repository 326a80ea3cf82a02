// Command g2msim runs the Microsoft Graph/Entra and GoTo simulators alone,
// loaded with the demo's tenant, and prints how to point g2msync at them:
// for trying the CLI by hand, for the daemon under systemd on a laptop, or
// for a benchmark against separate processes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "g2msim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("g2msim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "g2msim", "directory for the CA certificate, the configuration and the secrets")
	scale := fs.Int("scale", 1, "multiply the demo tenant's group sizes (1: 280 group members)")
	latency := fs.Duration("latency", 0, "latency added to every simulated call")
	rate := fs.Float64("goto-rate", 10, "GoTo requests per second before 429 (negative: unlimited)")
	gotoAddr := fs.String("goto-addr", "", "listen address of the GoTo simulator (default: a free loopback port)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: g2msim [flags]\n\nRuns the Graph and GoTo simulators with the demo tenant until interrupted.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	groups := []scenario.GroupSpec{{Name: "Sales", Size: 120 * *scale}, {Name: "Engineering", Size: 100 * *scale}, {Name: "Support", Size: 60 * *scale}}
	w, err := scenario.Start(scenario.Options{Groups: groups, GraphLatency: *latency, GoToLatency: *latency, GoToRateLimit: *rate, GoToAddr: *gotoAddr})
	if err != nil {
		return err
	}
	defer w.Close()
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return err
	}
	caPath := filepath.Join(abs, "ca.pem")
	cfgPath := filepath.Join(abs, "g2msync.yaml")
	envPath := filepath.Join(abs, "env")
	if err := w.CA.WritePEM(caPath); err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, []byte(w.ConfigYAML(filepath.Join(abs, "state.db"), "127.0.0.1:9464")), 0o600); err != nil {
		return err
	}
	env := append([]string{"SSL_CERT_FILE=" + caPath, "G2MSYNC_CONFIG=" + cfgPath}, w.Environ()...)
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%q\n", k, v)
	}
	if err := os.WriteFile(envPath, []byte(b.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `Simulators running (Ctrl-C to stop):
  Entra/Graph  %s   tenant %s, %d people
  GoTo         %s   account %s

Point g2msync at them:
  . %s
  g2msync check
  g2msync plan
  g2msync run --once --initial-sync
  g2msync run

The configuration is %s; the secrets are in %s.
`, w.Graph.URL(), w.TenantID, len(w.People), w.GoTo.URL(), w.AccountKey, envPath, cfgPath, envPath)
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	time.Sleep(10 * time.Millisecond)
	return nil
}
