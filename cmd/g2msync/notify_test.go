package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/g2msync/g2msync/pkg/daemon"
	"github.com/g2msync/g2msync/pkg/engine"
	"github.com/g2msync/g2msync/pkg/metrics"
	"github.com/g2msync/g2msync/pkg/sim/graphsim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
	"github.com/g2msync/g2msync/pkg/sim/smtpsim"
	"github.com/g2msync/g2msync/pkg/state"
)

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNotificationsAndSecrets runs the daemon against the simulators and a
// real SMTP server through an incident of each kind, checks the mails
// (recipients, subject, body), and then scans everything g2msync wrote —
// every log line at debug level, /status, /metrics, the provisioning log in
// every format, each mail and each error — for the secrets it was given.
func TestNotificationsAndSecrets(t *testing.T) {
	const smtpPassword = "smtp-pa55word-9f3c"
	smtpSrv, err := smtpsim.Start(smtpsim.Options{User: "g2msync", Password: smtpPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(smtpSrv.Close)
	listen := freeAddr(t)
	tw := newTestWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 20}}, DirectAdmins: -1, DefaultAccess: -1,
		Disabled: -1, PreExisting: -1}, "",
		"G2MSYNC_SCHEDULE=@every 1s", "G2MSYNC_LISTEN="+listen, "G2MSYNC_LOG_LEVEL=debug", "G2MSYNC_LOG_FORMAT=json",
		"G2MSYNC_NOTIFY_SMTP_HOST="+smtpSrv.Host, fmt.Sprintf("G2MSYNC_NOTIFY_SMTP_PORT=%d", smtpSrv.Port),
		"G2MSYNC_NOTIFY_SMTP_USERNAME=g2msync", "G2MSYNC_NOTIFY_SMTP_PASSWORD="+smtpPassword,
		"G2MSYNC_NOTIFY_FROM=g2msync@contoso.example", "G2MSYNC_NOTIFY_TO=idm@contoso.example,oncall@contoso.example",
		"G2MSYNC_NOTIFY_FAILED_CYCLES=2")
	logs := &syncBuffer{}
	a, err := tw.m.newApp(tw.cfg, tw.m.newLogger(tw.cfg, logs), metrics.New("test"), appOptions{roots: tw.w.CA.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	a.mailTLS = smtpSrv.ClientTLS()
	if _, err := a.cycle(context.Background(), engine.Options{InitialSync: true}); err != nil {
		t.Fatal(err)
	}
	tracker, err := a.tracker()
	if err != nil {
		t.Fatal(err)
	}
	d, sig, done := startDaemon(t, daemon.Options{Schedule: "@every 1s", Cycle: a.cycle, Listen: listen, Logger: a.log, Metrics: a.metrics,
		Tracker: tracker, StatusURL: "http://" + listen + "/status", Backoff: []time.Duration{0, 2 * time.Second}})
	defer func() { sig <- syscall.SIGTERM; <-done }()
	waitFor := mailWaiter(t, smtpSrv, d)
	mailed := func(subject string) func() bool {
		return func() bool { return strings.Contains(strings.Join(subjects(smtpSrv), "\n"), subject) }
	}
	waitFor("a successful cycle", func() bool { s := d.Status(); return len(s.Cycles) > 0 && s.Ready })

	// Staged disables: 8 of 20 leave.
	for _, p := range tw.w.InScope(false)[:8] {
		tw.w.RemoveFromGroup(p.ID)
	}
	waitFor("the staged mail", mailed("8 disables wait for approval"))

	// Graph fails: two failed cycles open "failing", and the back-off "quarantine".
	tw.w.Graph.InjectFault(graphsim.Fault{Route: "GET /servicePrincipals/{id}/appRoleAssignedTo", Times: -1, Status: 500})
	waitFor("the failing mail", mailed("2 provisioning cycles failed in a row"))
	waitFor("the quarantine mail", mailed("paused"))
	tw.w.Graph.ClearFaults()
	waitFor("the resolved mails", func() bool { return countContaining(subjects(smtpSrv), "Resolved") >= 2 })

	// GoTo refuses the refresh token, which the next change needs.
	tw.w.GoTo.RevokeAllGrants()
	if _, err := tw.w.NewHire("Sales"); err != nil {
		t.Fatal(err)
	}
	waitFor("the credentials mail", mailed("refused g2msync's credentials"))

	msgs := smtpSrv.Messages()
	for _, m := range msgs {
		if m.AuthUser != "g2msync" || !m.TLS || strings.Join(m.To, ",") != "idm@contoso.example,oncall@contoso.example" {
			t.Errorf("mail %q: auth %q tls %v to %v", m.Subject, m.AuthUser, m.TLS, m.To)
		}
	}
	for _, want := range []struct{ subject, body string }{
		{"8 disables wait for approval", "g2msync run --once --allow-disables"},
		{"2 provisioning cycles failed in a row", "500"},
		{"refused g2msync's credentials", "g2msync login goto"},
	} {
		m := find(msgs, want.subject)
		if m == nil || !strings.Contains(m.Body, want.body) {
			t.Errorf("mail %q: want body with %q; got %+v", want.subject, want.body, m)
		}
	}
	if n := countContaining(subjects(smtpSrv), "8 disables wait for approval"); n != 1 {
		t.Errorf("staged mail sent %d times, want once per incident", n)
	}

	// Gather everything g2msync wrote, then look for the secrets in it.
	var out strings.Builder
	out.WriteString(logs.String())
	for _, path := range []string{"/status", "/metrics", "/healthz", "/readyz"} {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out.Write(b)
	}
	sig <- syscall.SIGTERM
	<-done
	sig = make(chan os.Signal, 1) // the deferred stop has nothing left to stop
	go func() { <-sig }()
	for _, format := range []string{"text", "json", "csv"} {
		code, stdout, stderr := runMain(t, tw.m.Environ, "report", "--state", tw.cfg.StatePath, "--output", format)
		if code != ExitOK {
			t.Fatalf("report: %s", stderr)
		}
		out.WriteString(stdout)
	}
	code, stdout, stderr := runMain(t, tw.m.Environ, "status", "--state", tw.cfg.StatePath, "--output", "json")
	out.WriteString(stdout + stderr)
	if code != ExitOK {
		t.Fatalf("status: %s", stderr)
	}
	for _, m := range msgs {
		out.WriteString(m.Subject + "\n" + m.Body + "\n" + string(m.Data))
	}
	var dump strings.Builder
	tw.cfg.Dump(&dump)
	out.WriteString(dump.String())
	tw.read(func(st *state.Store) {
		cs, _ := st.Cycles(0)
		for _, c := range cs {
			out.WriteString(c.Error)
		}
		fs, _ := st.Failures()
		for _, f := range fs {
			out.WriteString(f.LastError)
		}
	})

	secrets := map[string]string{"Entra client secret": tw.w.ClientSecret, "GoTo client secret": tw.w.GoToClientSecret,
		"first GoTo refresh token": tw.w.RefreshToken, "SMTP password": smtpPassword}
	for i, tok := range tw.w.GoTo.RejectedRefreshTokens() {
		secrets[fmt.Sprintf("rejected refresh token %d", i)] = tok
	}
	tw.read(func(st *state.Store) {
		tok, _ := st.RefreshToken(context.Background())
		secrets["stored refresh token"] = tok
	})
	all := out.String()
	if len(all) < 10000 || !strings.Contains(all, `"level":"DEBUG"`) {
		t.Fatalf("scanned only %d bytes; the scan must see debug logs and every output", len(all))
	}
	for name, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			i := strings.Index(all, s)
			t.Errorf("the %s appears in g2msync's output: …%s…", name, all[max(0, i-200):min(len(all), i+len(s)+50)])
		}
	}
	t.Logf("scanned %d bytes of logs, endpoints, reports, mails and errors for %d secrets", len(all), len(secrets))
}

// startDaemon runs a daemon until a signal on sig; done closes when it
// has stopped.
func startDaemon(t *testing.T, opts daemon.Options) (*daemon.Daemon, chan os.Signal, chan struct{}) {
	t.Helper()
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() { d.Run(context.Background(), sig); close(done) }()
	return d, sig, done
}

// mailWaiter returns a wait for a condition, which fails the test after 30
// seconds naming the mails sent and the daemon's status.
func mailWaiter(t *testing.T, s *smtpsim.Server, d *daemon.Daemon) func(what string, cond func() bool) {
	return func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; mails: %v\nstatus: %+v", what, subjects(s), d.Status())
			}
		}
	}
}

func subjects(s *smtpsim.Server) []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.Subject)
	}
	return out
}

func countContaining(ss []string, sub string) int {
	n := 0
	for _, s := range ss {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func find(msgs []smtpsim.Message, subject string) *smtpsim.Message {
	for i := range msgs {
		if strings.Contains(msgs[i].Subject, subject) {
			return &msgs[i]
		}
	}
	return nil
}
