package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// StatusToken reads the status token wherever Load would, and nothing
// else: a configuration that is not valid in other parts still gives it.
func TestStatusTokenAlone(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := t.TempDir()
	if err := os.WriteFile(filepath.Join(cred, "status-token"), []byte("from-systemd"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := func(yaml string) string {
		p := filepath.Join(t.TempDir(), "g2msync.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		env        []string
		want       string
		wantErr    string
	}{
		{"file key, in a file missing everything else", cfgFile("listen: 0.0.0.0:9464\nstatus_token_file: " + file + "\n"), nil, "from-the-file", ""},
		{"inline", cfgFile("status_token: inline-token\n"), nil, "inline-token", ""},
		{"environment", cfgFile("listen: :9464\n"), []string{"G2MSYNC_STATUS_TOKEN=from-env"}, "from-env", ""},
		{"environment names the file", "", []string{"G2MSYNC_STATUS_TOKEN_FILE=" + file}, "from-the-file", ""},
		{"systemd credential", cfgFile("{}\n"), []string{"CREDENTIALS_DIRECTORY=" + cred}, "from-systemd", ""},
		{"none", cfgFile("{}\n"), nil, "", ""},
		{"unreadable file", cfgFile("status_token_file: " + filepath.Join(dir, "missing") + "\n"), nil, "", "status_token_file"},
	} {
		got, err := StatusToken(tc.path, tc.env)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.Value() != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got.Value(), err, tc.want)
		}
	}
}
