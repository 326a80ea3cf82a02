package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes accepted in Config.TLS.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS; refused if the server does not offer it
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no encryption; only for a relay on the same host or network
)

// subjectPrefix marks every mail so administrators can filter them.
const subjectPrefix = "[g2msync] "

// defaultTimeout bounds one Send: dial, TLS, AUTH and DATA together. A cycle
// must not hang on a mail server that accepts the connection and stalls.
const defaultTimeout = 30 * time.Second

// Config is the SMTP configuration. Password is the plain secret (the caller loads and redacts it).
type Config struct {
	Host     string
	Port     int    // 0: 587 for starttls, 465 for tls, 25 for none
	Username string // "" : no AUTH
	Password string
	TLS      string // "starttls" (default, mandatory STARTTLS), "tls" (implicit TLS), "none" (plain; for a local relay only)
	From     string
	To       []string
	Timeout  time.Duration // 0: 30 s
	// TLSConfig, when set, replaces the default (system roots, ServerName = Host); tests use it to trust their server.
	TLSConfig *tls.Config
}

// Mailer sends plain-text mail through one SMTP server.
//
// It keeps the password only inside its go-mail client, never in a field of
// its own, so printing a Mailer cannot show it. A Mailer is safe for
// concurrent use: each Send dials its own connection.
type Mailer struct {
	client *gomail.Client
	addr   string // host:port, named in every error so the reader knows which server failed
	mode   string
	from   string
	to     []string
}

// NewMailer validates cfg and builds a Mailer without touching the network,
// so a bad configuration fails at start-up rather than at the first incident.
// All problems are reported together, each naming its field.
func NewMailer(cfg Config) (*Mailer, error) {
	mode := cfg.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	if strings.TrimSpace(cfg.Host) == "" {
		add("host: missing; name the SMTP server, e.g. smtp.office365.com")
	}
	port := cfg.Port
	switch mode {
	case TLSStartTLS:
		if port == 0 {
			port = 587
		}
	case TLSImplicit:
		if port == 0 {
			port = 465
		}
	case TLSNone:
		if port == 0 {
			port = 25
		}
		// go-mail would refuse to send PLAIN or LOGIN credentials in clear
		// text anyway; saying so here is clearer than an AUTH error later.
		if cfg.Username != "" {
			add("username: set while tls is %q, which would send the password unencrypted; use starttls or tls, or drop the username for a relay that needs no AUTH", TLSNone)
		}
	default:
		add("tls: %q is not one of starttls, tls, none", cfg.TLS)
	}
	if port < 0 || port > 65535 {
		add("port: %d is not between 1 and 65535", cfg.Port)
	}
	if cfg.Timeout < 0 {
		add("timeout: %s is negative", cfg.Timeout)
	}
	if cfg.Username == "" && cfg.Password != "" {
		add("username: missing while a password is set; set both for AUTH, or neither")
	}
	if strings.TrimSpace(cfg.From) == "" {
		add("from: missing; give the sender address, e.g. g2msync@contoso.com")
	} else if _, err := mail.ParseAddress(cfg.From); err != nil {
		add("from: %q is not an email address: %v", cfg.From, err)
	}
	if len(cfg.To) == 0 {
		add("to: empty; list at least one administrator address")
	}
	for i, to := range cfg.To {
		if _, err := mail.ParseAddress(to); err != nil {
			add("to[%d]: %q is not an email address: %v", i, to, err)
		}
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("smtp config: %s", strings.Join(probs, "; "))
	}

	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	tlsConfig := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		// Clone so the caller's value is never mutated; STARTTLS needs a
		// ServerName to verify against, and tls.Dial would infer one but
		// go-mail's STARTTLS does not.
		tlsConfig = cfg.TLSConfig.Clone()
		if tlsConfig.ServerName == "" {
			tlsConfig.ServerName = cfg.Host
		}
		if tlsConfig.MinVersion == 0 {
			tlsConfig.MinVersion = tls.VersionTLS12
		}
	}
	opts := []gomail.Option{
		gomail.WithPort(port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch mode {
	case TLSStartTLS:
		// Mandatory: a server (or an attacker in the path) that hides
		// STARTTLS must not get the password or the mail in clear text.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers;
		// fixing PLAIN would fail against servers that offer only LOGIN,
		// as Microsoft 365 does.
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp config: %w", err)
	}
	return &Mailer{
		client: client,
		addr:   net.JoinHostPort(cfg.Host, strconv.Itoa(port)),
		mode:   mode,
		from:   cfg.From,
		to:     append([]string(nil), cfg.To...),
	}, nil
}

// Send mails a plain-text message to every configured recipient. The subject
// gets the prefix "[g2msync] ". The error names the SMTP server and, where
// the cause is recognisable, what to check; it never contains the password.
func (m *Mailer) Send(ctx context.Context, subject, body string) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return fmt.Errorf("mail from %q: %w", m.from, err)
	}
	if err := msg.To(m.to...); err != nil {
		return fmt.Errorf("mail to %s: %w", strings.Join(m.to, ", "), err)
	}
	msg.Subject(subjectPrefix + subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, body)
	if err := m.client.DialAndSendWithContext(ctx, msg); err != nil {
		return &sendError{addr: m.addr, mode: m.mode, err: err}
	}
	return nil
}

// sendError puts the server first and a hint last, in the shape of the
// project's other errors: what failed, where, why, what to do.
type sendError struct {
	addr string
	mode string
	err  error
}

func (e *sendError) Error() string {
	s := fmt.Sprintf("send mail via smtp server %s (%s): %v", e.addr, e.mode, e.err)
	if h := hint(e.err); h != "" {
		s += "; " + h
	}
	return s
}

func (e *sendError) Unwrap() error { return e.err }

// hint names the setting to check for the failures an administrator can fix.
func hint(err error) string {
	var tp *textproto.Error
	var cv *tls.CertificateVerificationError
	var ne net.Error
	switch {
	case errors.As(err, &tp) && tp.Code == 535:
		return "the server refused the username or password: check the SMTP username and password secret"
	case errors.As(err, &tp) && tp.Code == 530:
		return "the server requires AUTH: set the SMTP username and password"
	case errors.As(err, &cv):
		return "the server's certificate did not verify: use the host name on its certificate, or add its CA to the system trust store"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "no answer in time: check host, port and firewall"
	}
	return ""
}
