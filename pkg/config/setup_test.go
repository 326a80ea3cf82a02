package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSetup: a configuration incomplete only in its licences and its
// GoTo account loads for check and login, with those problems pending;
// any other problem still refuses it, and Load refuses it whole.
func TestLoadSetup(t *testing.T) {
	base := strings.Replace(validYAML, `  User: { licenses: ["123456789012345678901"] }`, "", 1)
	for _, tc := range []struct {
		name, yaml  string
		wantPending []string
		wantErr     string
		wantAccount string
	}{
		{"complete", validYAML, nil, "", "4200000000000000001"},
		{"placeholder licence", strings.Replace(validYAML, "123456789012345678901", "1111111111111111111", 1),
			[]string{"roles.User.licenses[0]"}, "", "4200000000000000001"},
		{"empty licences", base + "  User: { licenses: [] }\n", []string{"roles.User.licenses"}, "", "4200000000000000001"},
		{"no roles", base, []string{"roles"}, "", "4200000000000000001"},
		{"placeholder account", strings.Replace(validYAML, "4200000000000000001", "1234567890123456789", 1),
			[]string{"goto.account_key"}, "", ""},
		{"no account", strings.Replace(validYAML, `  account_key: "4200000000000000001"`+"\n", "", 1),
			[]string{"goto.account_key"}, "", ""},
		{"bad admin role still refused", base + "  User: { licenses: [], admin_roles: [manage] }\n", nil, "roles.User.admin_roles[0]", ""},
		{"placeholder tenant still refused", strings.Replace(validYAML, "8f0e6b1a-1c1d-4d1e-9f00-000000000001", "00000000-0000-0000-0000-000000000000", 1),
			nil, "entra.tenant_id", ""},
		{"empty role name still refused", base + "  \" \": { licenses: [\"1\"] }\n", nil, "an app role name is empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, pending, err := LoadSetup(path, secretsEnv)
			if tc.wantErr != "" {
				var cerr *Error
				if !errors.As(err, &cerr) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadSetup err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSetup: %v", err)
			}
			var keys []string
			for _, p := range pending {
				keys = append(keys, p.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tc.wantPending, ",") {
				t.Errorf("pending %v, want %v", keys, tc.wantPending)
			}
			if cfg.GoTo.AccountKey != tc.wantAccount {
				t.Errorf("account key %q, want %q", cfg.GoTo.AccountKey, tc.wantAccount)
			}
			if _, err := Load(path, secretsEnv); (err == nil) != (len(tc.wantPending) == 0) {
				t.Errorf("Load err = %v with pending %v: Load must refuse exactly what LoadSetup lets wait", err, keys)
			}
		})
	}
}
