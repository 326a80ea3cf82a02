package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// HealthcheckCommand asks a running daemon whether it is alive, for container
// health checks in images without a shell or curl.
type HealthcheckCommand struct{ m *Main }

const healthcheckUsage = `usage: g2msync healthcheck [flags]

Exits 0 if the daemon's /healthz (or /readyz with --ready) answers 200,
1 otherwise. The address is the configuration's listen, or --url.`

// Run implements command.
func (c *HealthcheckCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("healthcheck", healthcheckUsage)
	cfgPath := c.m.configFlag(fs)
	url := fs.String("url", "", "daemon base URL, e.g. http://127.0.0.1:9464 (default: from listen in the configuration)")
	ready := fs.Bool("ready", false, "check /readyz (last cycle succeeded recently) instead of /healthz")
	if err := parse(fs, args); err != nil {
		return err
	}
	base := *url
	if base == "" {
		listen := c.m.getenv("G2MSYNC_LISTEN")
		if listen == "" {
			cfg, err := c.m.loadConfig(*cfgPath)
			if err != nil {
				return err
			}
			listen = cfg.Listen
		}
		if listen == "" {
			return usageError{fmt.Errorf("listen is empty in the configuration: the daemon serves no health endpoint")}
		}
		if strings.HasPrefix(listen, ":") || strings.HasPrefix(listen, "0.0.0.0:") {
			listen = "127.0.0.1" + listen[strings.Index(listen, ":"):]
		}
		base = "http://" + listen
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprint(c.m.Stdout, string(body))
	return nil
}
