package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/g2msync/g2msync/pkg/config"
)

// HealthcheckCommand asks a running daemon whether it is alive, for container
// health checks in images without a shell or curl.
type HealthcheckCommand struct{ m *Main }

const healthcheckUsage = `usage: g2msync healthcheck [flags]

Exits 0 if the daemon's /healthz (or /readyz with --ready) answers 200,
1 otherwise. The address is the configuration's listen, or --url. With
listen_tls set it speaks HTTPS and checks that the daemon presents the
certificate of listen_tls.cert_file (not the host name: it probes the
address itself); without it, an https --url is checked against the
system's authorities. Only listen and listen_tls are read from the
configuration (and $G2MSYNC_LISTEN, $G2MSYNC_LISTEN_TLS_CERT_FILE).`

// Run implements command.
func (c *HealthcheckCommand) Run(ctx context.Context, args []string) error {
	fs := c.m.newFlagSet("healthcheck", healthcheckUsage)
	cfgPath := c.m.configFlag(fs)
	url := fs.String("url", "", "daemon base URL, e.g. https://127.0.0.1:9464 (default: from listen and listen_tls in the configuration)")
	ready := fs.Bool("ready", false, "check /readyz (last cycle succeeded recently) instead of /healthz")
	if err := parse(fs, args); err != nil {
		return err
	}
	base, client, err := c.m.daemonClient(*cfgPath, *url)
	if err != nil {
		return err
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := client.Do(req)
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

// daemonClient returns the base URL of the daemon of the configuration at
// cfgPath (or url, when given) and a client that trusts only its listener:
// for healthcheck's probes and status's live read. Only listen and
// listen_tls are read from the configuration.
func (m *Main) daemonClient(cfgPath, url string) (string, *http.Client, error) {
	cfgFile := cfgPath
	if cfgFile == defaultConfigPath {
		if _, err := os.Stat(cfgFile); errors.Is(err, os.ErrNotExist) {
			cfgFile = "" // configured by environment only, as in a container
		}
	}
	listen, lt, cfgErr := config.Listener(cfgFile, m.Environ)
	base := url
	if base == "" {
		if cfgErr != nil {
			return "", nil, usageError{cfgErr}
		}
		if listen == "" {
			return "", nil, usageError{fmt.Errorf("listen is empty in the configuration: the daemon serves no health endpoint")}
		}
		if strings.HasPrefix(listen, ":") || strings.HasPrefix(listen, "0.0.0.0:") {
			listen = "127.0.0.1" + listen[strings.Index(listen, ":"):]
		}
		base = "http://" + listen
		if lt.CertFile != "" {
			base = "https://" + listen
		}
	}
	client := &http.Client{}
	if strings.HasPrefix(base, "https://") && cfgErr == nil && lt.CertFile != "" {
		tc, err := probeTLS(lt.CertFile)
		if err != nil {
			return "", nil, err
		}
		client.Transport = &http.Transport{TLSClientConfig: tc}
	}
	return strings.TrimSuffix(base, "/"), client, nil
}

// probeTLS is the TLS configuration of a probe of our own listener: the
// daemon must present the certificate of listen_tls.cert_file (the first
// one in the file, as the daemon serves it), valid now (by the wall
// clock, as any TLS client would judge it). That
// certificate is the only one trusted, not an authority that issued it,
// which would vouch for every other certificate it issued. The host name
// is not checked: the probe picks the address itself (127.0.0.1 for a
// daemon listening on every interface), which a certificate for the
// host's name need not list, and the handshake proves that the server
// holds the key of that very certificate, which is what tells our daemon
// from another process on the port.
func probeTLS(certFile string) (*tls.Config, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: listen_tls.cert_file: %w", err)
	}
	var want *x509.Certificate
	for block, rest := pem.Decode(raw); block != nil && want == nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			if want, err = x509.ParseCertificate(block.Bytes); err != nil {
				return nil, fmt.Errorf("healthcheck: listen_tls.cert_file %s: %w", certFile, err)
			}
		}
	}
	if want == nil {
		return nil, fmt.Errorf("healthcheck: listen_tls.cert_file %s holds no PEM certificate", certFile)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Not skipped: VerifyConnection below checks the certificate
		// against the configured one in place of an authority and a name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !cs.PeerCertificates[0].Equal(want) {
				return fmt.Errorf("the server presents another certificate than listen_tls.cert_file %s: "+
					"another process holds the port, or the file was renewed since the daemon last read it (systemctl reload g2msync reads it again)", certFile)
			}
			if t := time.Now(); t.Before(want.NotBefore) || t.After(want.NotAfter) {
				return fmt.Errorf("the certificate of listen_tls.cert_file %s is valid from %s to %s only", certFile,
					want.NotBefore.Format(time.RFC3339), want.NotAfter.Format(time.RFC3339))
			}
			return nil
		},
	}, nil
}

// statusToken reads only the status token of the configuration at cfgPath,
// which /status and /status/log need off loopback.
func (m *Main) statusToken(cfgPath string) (string, error) {
	cfgFile := cfgPath
	if cfgFile == defaultConfigPath {
		if _, err := os.Stat(cfgFile); errors.Is(err, os.ErrNotExist) {
			cfgFile = "" // configured by environment only, as in a container
		}
	}
	t, err := config.StatusToken(cfgFile, m.Environ)
	if err != nil {
		return "", usageError{err}
	}
	return t.Value(), nil
}
