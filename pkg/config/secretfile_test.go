package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 23, item 11: every file a secret came from is listed with who may
// read it; those others may read carry the command that makes them private.
func TestSecretFilesAreListed(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode fs.FileMode) string {
		p := writeFile(t, dir, name, data)
		os.Chmod(p, mode) // past the umask
		return p
	}
	now := time.Now()
	key := rsaKey(t)
	c := newTestCert(t, "g2msync", key, now.Add(-time.Hour), now.AddDate(1, 0, 0), nil)
	cert := write("app.pem", join3(certPEM(c.cert), pkcs8PEM(t, key)), 0o644)
	gotoSecret := write("goto", []byte("goto-s3cret"), 0o600)
	ops := write("operators", []byte("alice:$2a$10$abcdefghijklmnopqrstuv\n"), 0o640)
	tlsKey := write("tls.key", []byte("key"), 0o400)
	tlsCert := write("tls.crt", []byte("cert"), 0o644)
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "status-token"), []byte("st"), 0o604)
	os.Chmod(filepath.Join(creds, "status-token"), 0o604)

	src := strings.NewReplacer("entra:\n", "entra:\n  certificate_file: "+cert+"\n", "goto:\n", "goto:\n  client_secret_file: "+gotoSecret+"\n").Replace(validYAML) +
		"console: { operators_file: " + ops + " }\nlisten_tls: { cert_file: " + tlsCert + ", key_file: " + tlsKey + " }\n"
	cfg, err := Parse([]byte(src), []string{"CREDENTIALS_DIRECTORY=" + creds})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key, path string
		mode      fs.FileMode
		shared    string
	}{
		{"console.operators_file", ops, 0o640, "its group can read it"},
		{"entra.certificate_file", cert, 0o644, "its group and all other users can read it"},
		{"goto.client_secret_file", gotoSecret, 0o600, ""},
		{"listen_tls.key_file", tlsKey, 0o400, ""},
		{"status_token", filepath.Join(creds, "status-token"), 0o604, "all other users can read it"},
	}
	if len(cfg.SecretFiles) != len(want) {
		t.Fatalf("secret files %+v, want %d", cfg.SecretFiles, len(want))
	}
	warned := map[string]bool{}
	for _, w := range cfg.Warnings {
		warned[w.Key+" "+w.Msg] = true
	}
	for i, w := range want {
		f := cfg.SecretFiles[i]
		if f.Key != w.key || f.Path != w.path || f.Mode != w.mode || f.Shared != w.shared || f.Owner == "" {
			t.Errorf("file %d = %+v, want %+v", i, f, w)
		}
		s := f.String()
		switch {
		case w.shared == "" && !strings.HasSuffix(s, "only its owner can read it"):
			t.Errorf("%s: %s", w.key, s)
		case w.shared != "" && (!strings.Contains(s, "make it private: ") || !strings.Contains(f.Fix, "chmod 600 "+w.path)):
			t.Errorf("%s: %s", w.key, s)
		case w.shared != "" && !warned[w.key+" "+s]:
			t.Errorf("%s: no warning %q in %+v", w.key, s, cfg.Warnings)
		}
	}
	if h := cfg.SecretFiles[1].Holds; !strings.Contains(h, "CN=g2msync, thumbprint "+cfg.Entra.Certificate.Thumbprint()) {
		t.Errorf("certificate holds %q", h)
	}
}

// The command that makes a file private leaves it to the user g2msync runs
// as: the user running check, or, under root (g2msync-admin), the file's
// owner, or the service's user for a root-owned file g2msync reads itself.
func TestPrivateFix(t *testing.T) {
	const p = "/etc/g2msync/app.pem"
	for _, tt := range []struct {
		name, owner, me, service string
		credential               bool
		want                     string
	}{
		{"my own file", "g2msync", "g2msync", "g2msync", false, "chmod 600 " + p},
		{"root's file, run as the service", "root", "g2msync", "g2msync", false, "sudo chown g2msync " + p + " && sudo chmod 600 " + p},
		{"root's credential, run as another user", "root", "alice", "", true, "sudo chmod 600 " + p},
		{"the service's file, run by root", "g2msync", "root", "g2msync", false, "chmod 600 " + p},
		{"root's file, run by root, service user exists", "root", "root", "g2msync", false, "chown g2msync " + p + " && chmod 600 " + p},
		{"root's file, run by root, no service user", "root", "root", "", false, "chmod 600 " + p + ", and chown it to the user g2msync runs as if that is not root"},
		{"root's credential, run by root", "root", "root", "g2msync", true, "chmod 600 " + p},
	} {
		if got := privateFix(p, tt.owner, tt.me, tt.service, tt.credential); got != tt.want {
			t.Errorf("%s: privateFix = %q, want %q", tt.name, got, tt.want)
		}
	}
	for mode, want := range map[fs.FileMode]string{
		0o644: "its group and all other users can read it",
		0o640: "its group can read it",
		0o666: "its group and all other users can read and change it",
		0o642: "its group can read it, all other users can change it",
		0o620: "its group can change it",
		0o610: "users other than its owner have rights on it",
	} {
		if got := exposure(mode); got != want {
			t.Errorf("exposure(%04o) = %q, want %q", mode, got, want)
		}
	}
}
