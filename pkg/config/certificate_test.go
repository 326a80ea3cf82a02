package config

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// certYAML is validYAML with the certificate credential: the Entra client
// secret is not set, so that the certificate is the one credential.
func certYAML(path string) string {
	return strings.Replace(validYAML, "entra:\n", "entra:\n  certificate_file: \""+path+"\"\n", 1)
}

// gotoOnly provides the GoTo secret alone.
var gotoOnly = []string{"G2MSYNC_GOTO_CLIENT_SECRET=goto-s3cret"}

// testCert is a certificate made for a test, with its key.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newTestCert makes a certificate valid from notBefore to notAfter for key,
// signed by parent (self-signed when nil).
func newTestCert(t testing.TB, cn string, key crypto.Signer, notBefore, notAfter time.Time, parent *testCert) *testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		IsCA:                  parent == nil,
		BasicConstraintsValid: true,
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pkcs8PEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func join3(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func encodeP12(t testing.TB, enc *pkcs12.Encoder, c *testCert, cas []*x509.Certificate, password string) []byte {
	t.Helper()
	data, err := enc.Encode(c.key, c.cert, cas, password)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// parseCert loads certYAML naming path, with env added to gotoOnly.
func parseCert(path string, env ...string) (*Config, error) {
	return Parse([]byte(certYAML(path)), append(append([]string{}, gotoOnly...), env...))
}

// Issue 23, item 4: every problem of entra.certificate_file is a
// configuration error naming the key and what to do, found when the
// configuration loads (before, a missing file failed the cycle with exit 1
// and a modern PKCS#12 file could not be read at all).
func TestCertificateFileProblems(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	key := rsaKey(t)
	good := newTestCert(t, "g2msync", key, now.Add(-time.Hour), now.AddDate(1, 0, 0), nil)
	other := newTestCert(t, "another", rsaKey(t), now.Add(-time.Hour), now.AddDate(1, 0, 0), nil)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec := newTestCert(t, "g2msync-ec", ecKey, now.Add(-time.Hour), now.AddDate(1, 0, 0), nil)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}})
	damaged := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a certificate at all")})
	modern := encodeP12(t, pkcs12.Modern, &testCert{cert: good.cert, key: key}, nil, "right-password")

	tests := []struct {
		name string
		path string
		env  []string
		msg  string
	}{
		{"missing", filepath.Join(dir, "absent.pem"), nil, "no such file or directory; set it to the PEM or PKCS#12 file"},
		{"a directory", dir, nil, "is not a regular file"},
		{"empty", writeFile(t, dir, "empty.pem", nil), nil, "is empty"},
		{"not a certificate", writeFile(t, dir, "notes.txt", []byte("client secret: hunter2\n")), nil, "neither PEM (-----BEGIN CERTIFICATE-----) nor PKCS#12"},
		{"binary junk", writeFile(t, dir, "junk.bin", []byte{0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef}), nil, "neither PEM (-----BEGIN CERTIFICATE-----) nor PKCS#12"},
		{"DER certificate alone", writeFile(t, dir, "app.cer", good.cert.Raw), nil, "holds a certificate but not its private key"},
		{"PEM certificate alone", writeFile(t, dir, "cert.pem", certPEM(good.cert)), nil, "holds a certificate but not its private key"},
		{"PEM key alone", writeFile(t, dir, "key.pem", pkcs8PEM(t, key)), nil, "holds a private key but no certificate"},
		{"key of another certificate", writeFile(t, dir, "mismatch.pem", join3(certPEM(other.cert), pkcs8PEM(t, key))), nil, "the private key belongs to none of the 1 certificate"},
		{"ECDSA key", writeFile(t, dir, "ec.pem", join3(certPEM(ec.cert), pkcs8PEM(t, ecKey))), nil, "is ECDSA; Entra client assertions are signed with RSA"},
		{"encrypted PEM key", writeFile(t, dir, "enc.pem", join3(certPEM(good.cert), encrypted)), nil, "openssl pkcs12 -export -in"},
		{"damaged certificate block", writeFile(t, dir, "damaged.pem", join3(damaged, pkcs8PEM(t, key))), nil, "PEM block 1 (CERTIFICATE) is damaged"},
		{"PKCS#12 without its password", writeFile(t, dir, "nopw.p12", modern), nil, "this PKCS#12 file needs a password: put it in certificate_password_file"},
		{"PKCS#12 with a wrong password", writeFile(t, dir, "wrongpw.p12", modern), []string{"G2MSYNC_ENTRA_CERTIFICATE_PASSWORD=wrong"},
			"the password from $G2MSYNC_ENTRA_CERTIFICATE_PASSWORD does not open this PKCS#12 file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCert(tt.path, tt.env...)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want a problem at entra.certificate_file", err)
			}
			for _, p := range cerr.Problems {
				if p.Key == "entra.certificate_file" && strings.Contains(p.Msg, tt.msg) {
					if strings.Contains(p.Msg, "MII") || strings.Contains(p.Msg, "right-password") {
						t.Errorf("the message shows key material or the password: %s", p.Msg)
					}
					return
				}
			}
			t.Errorf("want entra.certificate_file: …%s…; got:\n%v", tt.msg, err)
		})
	}

	// With other problems, the certificate's is reported with them.
	_, err = Parse([]byte(certYAML(filepath.Join(dir, "absent.pem"))+"safety: { max_disables: -1 }\n"), gotoOnly)
	if err == nil || !strings.Contains(err.Error(), "safety.max_disables") || !strings.Contains(err.Error(), "entra.certificate_file") {
		t.Errorf("err = %v, want both problems", err)
	}
}

// The forms an administrator has: PEM with the key before or after the
// certificate, in PKCS #8 or PKCS #1, with a chain; PKCS#12 in OpenSSL 3's
// defaults (AES-256-CBC, PBKDF2, SHA-256 MAC), in the legacy forms, and
// without a password.
func TestCertificateFormatsLoad(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	caKey := rsaKey(t)
	ca := newTestCert(t, "Contoso CA", caKey, now.Add(-time.Hour), now.AddDate(2, 0, 0), nil)
	key := rsaKey(t)
	leaf := newTestCert(t, "g2msync", key, now.Add(-time.Hour), now.AddDate(1, 0, 0), ca)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})

	tests := []struct {
		name string
		data []byte
		pw   string
	}{
		{"PEM, key after", join3(certPEM(leaf.cert), pkcs8PEM(t, key)), ""},
		{"PEM, PKCS #1 key first", join3(pkcs1, certPEM(leaf.cert)), ""},
		{"PEM, chain with the CA first", join3(certPEM(ca.cert), pkcs8PEM(t, key), certPEM(leaf.cert)), ""},
		{"PKCS#12 modern", encodeP12(t, pkcs12.Modern2023, leaf, []*x509.Certificate{ca.cert}, "s3cret-pw"), "s3cret-pw"},
		{"PKCS#12 legacy RC2", encodeP12(t, pkcs12.LegacyRC2, leaf, nil, "s3cret-pw"), "s3cret-pw"},
		{"PKCS#12 legacy DES", encodeP12(t, pkcs12.LegacyDES, leaf, nil, "s3cret-pw"), "s3cret-pw"},
		{"PKCS#12 empty password", encodeP12(t, pkcs12.Modern2023, leaf, nil, ""), ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "cert"+string(rune('a'+i)), tt.data)
			var env []string
			if tt.pw != "" {
				env = []string{"G2MSYNC_ENTRA_CERTIFICATE_PASSWORD=" + tt.pw}
			}
			cfg, err := parseCert(path, env...)
			if err != nil {
				t.Fatal(err)
			}
			checkLoaded(t, cfg, leaf.cert, key)
		})
	}
}

// TestCertificateFromOpenSSL3 reads a PKCS#12 file exported by OpenSSL 3 with
// its defaults, the file issue 23 reported as "pkcs12: unknown digest
// algorithm". testdata/openssl3-default.p12 was made with OpenSSL 3.0.19:
//
//	openssl req -x509 -newkey rsa:2048 -noenc -keyout key.pem -out cert.pem -days 36500 -subj /CN=g2msync-openssl3-test
//	openssl pkcs12 -export -in cert.pem -inkey key.pem -out openssl3-default.p12 -passout pass:correct-horse-battery
//
// `openssl pkcs12 -info -noout` on it: MAC sha256; PBES2, PBKDF2,
// AES-256-CBC, PRF hmacWithSHA256 for the certificate and the key.
func TestCertificateFromOpenSSL3(t *testing.T) {
	path := filepath.Join("testdata", "openssl3-default.p12")
	cfg, err := parseCert(path, "G2MSYNC_ENTRA_CERTIFICATE_PASSWORD=correct-horse-battery")
	if err != nil {
		t.Fatal(err)
	}
	checkLoaded(t, cfg, nil, nil)
	if _, err := parseCert(path, "G2MSYNC_ENTRA_CERTIFICATE_PASSWORD=Correct-horse-battery"); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Errorf("wrong password: %v", err)
	}
}

// Expired, not yet valid and soon expiring certificates load (Entra, not
// the file, decides) with a warning that says what to do.
func TestCertificateValidityWarns(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	key := rsaKey(t)
	for _, tt := range []struct {
		name                string
		notBefore, notAfter time.Time
		want, then          string
	}{
		{"expired", now.AddDate(-1, 0, 0), now.Add(-time.Hour), "expired on " + now.Add(-time.Hour).UTC().Format("2006-01-02"), "upload it to the app registration (Certificates & secrets)"},
		{"not yet valid", now.Add(time.Hour), now.AddDate(1, 0, 0), "is not valid before", "check this host's clock"},
		{"expires soon", now.Add(-time.Hour), now.Add(10*24*time.Hour + time.Hour), "expires in 10 days", "upload it to the app registration (Certificates & secrets)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCert(t, "g2msync", key, tt.notBefore, tt.notAfter, nil)
			cfg, err := parseCert(writeFile(t, dir, tt.name+".pem", join3(certPEM(c.cert), pkcs8PEM(t, key))))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range cfg.Warnings {
				if w.Key == "entra.certificate_file" && strings.Contains(w.Msg, tt.want) && strings.Contains(w.Msg, tt.then) {
					return
				}
			}
			t.Errorf("warnings %+v, want entra.certificate_file: …%s…", cfg.Warnings, tt.want)
		})
	}
}

// checkLoaded checks that the configuration holds the certificate of key
// first, and key; nil leaf and key accept any matching pair.
func checkLoaded(t *testing.T, cfg *Config, leaf *x509.Certificate, key *rsa.PrivateKey) {
	t.Helper()
	c := cfg.Entra.Certificate
	if c == nil || len(c.Chain()) == 0 {
		t.Fatalf("no certificate loaded")
	}
	pk, ok := c.PrivateKey().(*rsa.PrivateKey)
	if !ok || !pk.PublicKey.Equal(c.Chain()[0].PublicKey) {
		t.Errorf("the first certificate is not the key's")
	}
	if leaf != nil && !c.Chain()[0].Equal(leaf) {
		t.Errorf("first certificate %s, want %s", c.Chain()[0].Subject, leaf.Subject)
	}
	if key != nil && !key.Equal(pk) {
		t.Errorf("another key")
	}
}

// The private key never reaches a printed form of the configuration: its
// dump, fmt's verbs, slog and JSON name the certificate only.
func TestCertificateKeyIsNeverPrinted(t *testing.T) {
	now := time.Now()
	key := rsaKey(t)
	c := newTestCert(t, "g2msync", key, now.Add(-time.Hour), now.AddDate(1, 0, 0), nil)
	keyPEM := pkcs8PEM(t, key)
	cfg, err := parseCert(writeFile(t, t.TempDir(), "app.pem", join3(certPEM(c.cert), keyPEM)))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := cfg.Dump(&b); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "%v %+v %#v %s %v", cfg, cfg.Entra, cfg.Entra, cfg.Entra.Certificate, *cfg.Entra.Certificate)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("loaded", "entra", cfg.Entra, "certificate", cfg.Entra.Certificate)
	j, err := json.Marshal(cfg.Entra)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(j)
	lines := strings.Split(string(keyPEM), "\n")
	for _, s := range []string{lines[1][:32], lines[5][:32], key.D.String()[:24], fmt.Sprintf("%x", key.D.Bytes()[:12]), "PRIVATE KEY"} {
		if strings.Contains(b.String(), s) {
			t.Fatalf("key material %q printed:\n%s", s, b.String())
		}
	}
	if !strings.Contains(b.String(), "CN=g2msync, thumbprint "+cfg.Entra.Certificate.Thumbprint()) {
		t.Errorf("the certificate is not named:\n%s", b.String())
	}
}
