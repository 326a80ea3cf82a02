package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/metrics"
)

// LoginCommand obtains the first GoTo refresh token and stores it in the state file.
type LoginCommand struct{ m *Main }

const loginUsage = `usage: g2msync login goto [flags]

Signs g2msync in to GoTo and stores the refresh token in the state file,
where every rotated token is kept from then on. By default it prints a URL:
open it, sign in as a GoTo admin with the MANAGE_USERS or SUPER_USER role,
and GoTo redirects to this machine's loopback address, which must be
registered as the OAuth client's redirect URI (http://127.0.0.1:8765/callback
by default). With --pat-file it exchanges a personal access token instead.

On a host without a browser (a server over SSH): forward the port first
(ssh -L 8765:127.0.0.1:8765 host) and open the URL on your machine; or sign
in anywhere and paste the address the browser then shows
(http://127.0.0.1:8765/callback?code=…) at the prompt.

It runs before the configuration is complete: with roles whose licences are
not filled in yet, or without goto.account_key (the token is then kept in a
file of its own at state_path, which the first sync takes over).

Run it again whenever g2msync says "GoTo rejected the refresh token".`

// Run implements command.
func (c *LoginCommand) Run(ctx context.Context, args []string) error {
	if done, err := c.m.subcommand(args, "goto", loginUsage, "login: say which service: g2msync login goto"); done {
		return err
	}
	fs := c.m.newFlagSet("login goto", loginUsage)
	cfgPath := c.m.configFlag(fs)
	listen := fs.String("listen", "127.0.0.1:8765", "loopback address for GoTo's redirect")
	patFile := fs.String("pat-file", "", "exchange the personal access token in this file instead of opening a browser")
	reason := fs.String("reason", "", "why, for the provisioning log")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, _, err := c.m.loadSetupConfig(*cfgPath) // before licences and the account key are known
	if err != nil {
		return err
	}
	a, err := c.m.newApp(cfg, c.m.quietLogger(cfg, c.m.Stderr), metrics.New(version), appOptions{})
	if err != nil {
		return err
	}
	err = a.svc.LoginGoTo(ctx, c.m.actor(*reason), func(ctx context.Context, gc *gotomeeting.Client, gcfg gotomeeting.Config) error {
		if *patFile != "" {
			raw, err := os.ReadFile(*patFile)
			if err != nil {
				return fmt.Errorf("read personal access token: %w", err)
			}
			_, err = gc.ExchangePAT(ctx, strings.TrimSpace(string(raw)))
			return err
		}
		_, err := gotomeeting.LoginLoopback(ctx, gcfg, *listen, func(url string) {
			fmt.Fprintf(c.m.Stdout, "Open this URL in a browser and sign in as a GoTo admin:\n\n  %s\n\nWaiting for GoTo's redirect to http://%s%s ...\n\n"+
				"On a host without a browser, either forward the port from your machine first\n"+
				"  ssh -L %s:%s %s\n"+
				"or, after signing in, paste here the address the browser shows\n"+
				"(http://%s%s?code=…; the page itself will not load):\n",
				url, *listen, gotomeeting.CallbackPath, portOf(*listen), *listen, hostname(), *listen, gotomeeting.CallbackPath)
		}, lines(c.m.Stdin))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "Logged in to GoTo. The refresh token is stored in %s; g2msync keeps it current from now on.\n", cfg.StatePath)
	return nil
}

// lines sends each line of r, if r is set, until it ends.
func lines(r io.Reader) <-chan string {
	if r == nil {
		return nil
	}
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "8765"
	}
	return port
}

func hostname() string {
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "this-host"
}
