package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// serveDaemon runs a daemon listening on a free loopback port, over TLS
// when cert and key are given, until the test ends; it returns the address.
func serveDaemon(t *testing.T, cert, key string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d, err := daemon.New(daemon.Options{Schedule: "@hourly", Listen: addr, TLSCertFile: cert, TLSKeyFile: key,
		Cycle: func(context.Context, engine.Options) (*daemon.Report, error) { return &daemon.Report{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
	}
	return addr
}

// With listen_tls in the configuration, `healthcheck` speaks HTTPS to the
// daemon and checks that it presents the configured certificate: from
// the file, and when the environment sets the address (as the container
// image does). A daemon presenting another certificate is unhealthy.
func TestHealthcheckSpeaksTLS(t *testing.T) {
	ca, err := simtls.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := ca.WriteServerPEM(cert, key, "g2msync.contoso.com"); err != nil {
		t.Fatal(err)
	}
	addr := serveDaemon(t, cert, key)
	_, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(dir, "g2msync.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: 127.0.0.1:%s\nlisten_tls: {cert_file: %s, key_file: %s}\n", port, cert, key)), 0o600)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"listen from the file", nil, nil},
		{"listen from the environment", []string{"G2MSYNC_LISTEN=0.0.0.0:" + port}, nil},
		{"--url", nil, []string{"--url", "https://127.0.0.1:" + port}},
	} {
		code, out, errOut := runMain(t, tc.env, append([]string{"healthcheck", "--config", cfg}, tc.args...)...)
		if code != ExitOK || out != "ok\n" {
			t.Errorf("%s: exit %d, %q %s", tc.name, code, out, errOut)
		}
	}

	// A server with another certificate, even one from the same
	// authority, is not the daemon the configuration describes.
	other := filepath.Join(dir, "other.pem")
	if err := ca.WriteServerPEM(other, filepath.Join(dir, "other-key.pem")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: 127.0.0.1:%s\nlisten_tls: {cert_file: %s, key_file: %s}\n", port, other, key)), 0o600)
	code, _, errOut := runMain(t, nil, "healthcheck", "--config", cfg)
	if code != ExitFailure || !strings.Contains(errOut, "presents another certificate than listen_tls.cert_file") {
		t.Errorf("another certificate: exit %d, %s", code, errOut)
	}

	// Without listen_tls it speaks plain HTTP, as before.
	plain := serveDaemon(t, "", "")
	code, out, errOut := runMain(t, []string{"G2MSYNC_LISTEN=" + plain}, "healthcheck", "--config", "")
	if code != ExitOK || out != "ok\n" {
		t.Errorf("plain HTTP: exit %d, %q %s", code, out, errOut)
	}
}
