package config

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// maxCertificateFile bounds what is read of entra.certificate_file: a
// certificate with its chain and private key is a few kilobytes.
const maxCertificateFile = 1 << 20

// expiryWarning is how long before its end a certificate is warned about.
const expiryWarning = 30 * 24 * time.Hour

// ClientCertificate is the app registration's certificate with its private
// key, read from entra.certificate_file when the configuration is loaded.
// Every printed form (fmt, slog, JSON, YAML) names the certificate by its
// subject, thumbprint and expiry, and never shows the key.
type ClientCertificate struct {
	chain []*x509.Certificate // the key's certificate first, then the file's others
	key   *rsa.PrivateKey
}

// Chain returns the certificate of the private key first, then any other
// certificate the file holds (its issuers); nil for a nil c.
func (c *ClientCertificate) Chain() []*x509.Certificate {
	if c == nil {
		return nil
	}
	return c.chain
}

// PrivateKey returns the certificate's private key, nil for a nil c. Call
// it only where the key is used.
func (c *ClientCertificate) PrivateKey() crypto.PrivateKey {
	if c == nil {
		return nil
	}
	return c.key
}

// Thumbprint is the certificate's SHA-1 thumbprint in hexadecimal, as the
// Entra portal lists it under the app registration's Certificates & secrets.
func (c *ClientCertificate) Thumbprint() string {
	sum := sha1.Sum(c.chain[0].Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// String implements fmt.Stringer: the subject, thumbprint and expiry.
func (c *ClientCertificate) String() string {
	if c == nil || len(c.chain) == 0 {
		return ""
	}
	return fmt.Sprintf("%s, thumbprint %s, valid until %s", c.chain[0].Subject, c.Thumbprint(), c.chain[0].NotAfter.UTC().Format(time.DateOnly))
}

// GoString keeps %#v from printing the key.
func (c *ClientCertificate) GoString() string { return c.String() }

// LogValue implements slog.LogValuer.
func (c *ClientCertificate) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalText implements encoding.TextMarshaler (JSON uses it too).
func (c *ClientCertificate) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// MarshalYAML implements yaml.Marshaler.
func (c *ClientCertificate) MarshalYAML() (any, error) { return c.String(), nil }

// loadCertificate reads entra.certificate_file, when the certificate is the
// credential, into Entra.Certificate. Each problem names the key and says
// what to do; a certificate outside its validity is a warning, since the
// key registered in Entra, not the file, decides.
func loadCertificate(cfg *Config, now time.Time, p *Problems) {
	e := &cfg.Entra
	if e.AuthMethod() != "certificate" || e.CertificateFile == "" {
		return
	}
	const key = "entra.certificate_file"
	path := e.CertificateFile
	data, err := readSmallFile(path, maxCertificateFile)
	if err != nil {
		p.Add(key, "%v; set it to the PEM or PKCS#12 file holding the app registration's certificate and its private key", err)
		return
	}
	c, err := parseCertificate(data, path, e.CertificatePassword)
	if err != nil {
		p.Add(key, "%s: %v", path, err)
		return
	}
	e.Certificate = c
	noteSecretFile(cfg, key, path, c.String(), false)
	const renew = "; make a new one, upload it to the app registration (Certificates & secrets) and set certificate_file to it"
	leaf := c.chain[0]
	switch {
	case now.After(leaf.NotAfter):
		cfg.Warnings = append(cfg.Warnings, Problem{Key: key, Msg: fmt.Sprintf("%s: the certificate (thumbprint %s) expired on %s, and Entra refuses an expired one%s",
			path, c.Thumbprint(), leaf.NotAfter.UTC().Format(time.DateOnly), renew)})
	case now.Before(leaf.NotBefore):
		cfg.Warnings = append(cfg.Warnings, Problem{Key: key, Msg: fmt.Sprintf("%s: the certificate (thumbprint %s) is not valid before %s: check this host's clock, or wait",
			path, c.Thumbprint(), leaf.NotBefore.UTC().Format(time.RFC3339))})
	case leaf.NotAfter.Sub(now) < expiryWarning:
		cfg.Warnings = append(cfg.Warnings, Problem{Key: key, Msg: fmt.Sprintf("%s: the certificate (thumbprint %s) expires in %d days, on %s%s",
			path, c.Thumbprint(), int(leaf.NotAfter.Sub(now).Hours()/24), leaf.NotAfter.UTC().Format(time.DateOnly), renew)})
	}
}

// readSmallFile reads a regular file of at most max bytes: a device or a
// pipe named by mistake must not hang the load.
func readSmallFile(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s is larger than %d KiB, too large for a certificate and its key", path, max>>10)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d KiB, too large for a certificate and its key", path, max>>10)
	}
	return data, nil
}

// parseCertificate reads PEM (certificates and an unencrypted private key,
// in any order) or PKCS#12 (legacy or modern: AES, PBKDF2, SHA-2 MACs).
// path is for the commands its errors give; they never quote the file.
func parseCertificate(data []byte, path string, password Secret) (*ClientCertificate, error) {
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return nil, errors.New("the file is empty: put the certificate and its private key in it")
	case bytes.Contains(data, []byte("-----BEGIN ")):
		return parsePEM(data, path)
	}
	if c, err := x509.ParseCertificate(data); err == nil {
		return nil, noKey(1, c)
	}
	if _, err := x509.ParsePKCS8PrivateKey(data); err == nil {
		return nil, errNoCertificate
	}
	var pfx struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(data, &pfx); err != nil || len(rest) > 0 || pfx.Version != 3 {
		return nil, errors.New("it is neither PEM (-----BEGIN CERTIFICATE-----) nor PKCS#12 (.pfx, .p12): " +
			"set certificate_file to the file holding the app registration's certificate and its private key")
	}
	return parsePKCS12(data, path, password)
}

var errNoCertificate = errors.New("it holds a private key but no certificate: put the certificate (-----BEGIN CERTIFICATE-----) " +
	"in the same file as its key, or export both as PKCS#12")

// noKey says that the file has n certificates, the first c, and no key.
func noKey(n int, c *x509.Certificate) error {
	return fmt.Errorf("it holds a certificate but not its private key (%d certificate(s), the first %s): "+
		"put the key in the same file (cat cert.pem key.pem > app.pem), or export both as PKCS#12 "+
		"(openssl pkcs12 -export -in cert.pem -inkey key.pem -out app.p12)", n, c.Subject)
}

func parsePEM(data []byte, path string) (*ClientCertificate, error) {
	var certs []*x509.Certificate
	var keys []crypto.PrivateKey
	encrypted := false
	n := 0
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		n++
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (CERTIFICATE) is damaged (%v): export the certificate again", n, err)
			}
			certs = append(certs, c)
		case "ENCRYPTED PRIVATE KEY":
			encrypted = true
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
				encrypted = true
				continue
			}
			k, err := parseKey(b)
			if err != nil {
				// The parser's words could quote the key: say only where.
				return nil, fmt.Errorf("PEM block %d (%s) is not a private key g2msync can read: export the key again, unencrypted, in PKCS #8", n, b.Type)
			}
			keys = append(keys, k)
		}
	}
	switch {
	case n == 0:
		return nil, errors.New("it looks like PEM but holds no readable block: check its -----BEGIN and -----END lines")
	case len(certs) == 0:
		return nil, errNoCertificate
	case len(keys) == 0 && encrypted:
		return nil, fmt.Errorf("its private key is encrypted, which g2msync reads only in PKCS#12: "+
			"run openssl pkcs12 -export -in %s -out app.p12 (it asks for the key's password, then for the new file's), "+
			"set certificate_file to app.p12 and put the new password in certificate_password_file", path)
	case len(keys) == 0:
		return nil, noKey(len(certs), certs[0])
	case len(keys) > 1:
		return nil, fmt.Errorf("it holds %d private keys: keep only the certificate's", len(keys))
	}
	return pair(certs, keys[0])
}

func parseKey(b *pem.Block) (crypto.PrivateKey, error) {
	switch b.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return x509.ParsePKCS1PrivateKey(b.Bytes)
}

func parsePKCS12(data []byte, path string, password Secret) (*ClientCertificate, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(data, password.Value())
	var notImpl pkcs12.NotImplementedError
	switch {
	case (errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption)) && !password.IsSet():
		return nil, errors.New("this PKCS#12 file needs a password: put it in certificate_password_file, " +
			"$G2MSYNC_ENTRA_CERTIFICATE_PASSWORD or the systemd credential entra-certificate-password")
	case errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption):
		return nil, fmt.Errorf("the password from %s does not open this PKCS#12 file: "+
			"try it with openssl pkcs12 -in %s -noout, which asks for it", password.Source(), path)
	case errors.As(err, &notImpl):
		return nil, fmt.Errorf("this PKCS#12 file is in a form g2msync cannot read (%v): convert it to PEM with "+
			"openssl pkcs12 -in %s -noenc -out app.pem (add -legacy if OpenSSL asks for it), chmod 600 app.pem, and set certificate_file to app.pem", err, path)
	case err != nil:
		return nil, fmt.Errorf("this PKCS#12 file cannot be used (%v): export the certificate again with its private key", err)
	}
	return pair(append([]*x509.Certificate{leaf}, cas...), key)
}

// pair checks that key is an RSA key whose certificate is among certs, and
// puts that certificate first: MSAL signs client assertions with RSA and
// names the certificate of the key.
func pair(certs []*x509.Certificate, key crypto.PrivateKey) (*ClientCertificate, error) {
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		kind := fmt.Sprintf("%T", key)
		switch key.(type) {
		case *ecdsa.PrivateKey:
			kind = "ECDSA"
		case ed25519.PrivateKey:
			kind = "Ed25519"
		}
		return nil, fmt.Errorf("its private key is %s; Entra client assertions are signed with RSA: make an RSA certificate, "+
			"e.g. openssl req -x509 -newkey rsa:3072 -noenc -keyout key.pem -out cert.pem -days 730 -subj /CN=g2msync, "+
			"and upload cert.pem to the app registration", kind)
	}
	for i, c := range certs {
		if rk.PublicKey.Equal(c.PublicKey) {
			chain := append([]*x509.Certificate{c}, certs[:i]...)
			return &ClientCertificate{chain: append(chain, certs[i+1:]...), key: rk}, nil
		}
	}
	return nil, fmt.Errorf("the private key belongs to none of the %d certificate(s) in it (the first %s): "+
		"put the certificate and its own key together", len(certs), certs[0].Subject)
}
