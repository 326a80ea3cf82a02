package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSystemdUnitsVerify runs systemd-analyze verify on the units, with
// ExecStart pointed at a real binary; any complaint fails the test.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	bin := binary(t)
	dir := t.TempDir()
	var units []string
	// The template unit is verified as an instance, as systemd runs it.
	for name, file := range map[string]string{"g2msync.service": "g2msync.service", "g2msync-initial-sync.service": "g2msync-initial-sync.service",
		"g2msync@contoso.service": "g2msync@.service"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "scripts", file))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(raw), "/usr/local/bin/g2msync", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	slices.Sort(units) // g2msync-initial-sync, g2msync.service, g2msync@contoso
	unit, _ := os.ReadFile(units[1])
	tmpl, _ := os.ReadFile(units[2])
	for _, want := range []string{"--config /etc/g2msync/%i.yaml", "StateDirectory=g2msync/%i", "G2MSYNC_STATE_PATH=/var/lib/g2msync/%i/state.db",
		"LoadCredential=entra-client-secret:/etc/g2msync/credentials/%i/entra-client-secret"} {
		if !strings.Contains(string(tmpl), want) {
			t.Errorf("g2msync@.service lacks %q", want)
		}
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "StateDirectory=g2msync", "LoadCredential=entra-client-secret:",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "RestrictAddressFamilies=",
		"CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("g2msync.service lacks %q", want)
		}
	}
}

// TestDockerfileConventions checks what can be checked without a Docker
// engine: the stages and settings the image promises, and that the build
// it runs (CGO_ENABLED=0) is possible for every package of the binary.
func TestDockerfileConventions(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, re := range []string{
		`(?m)^FROM golang:1\.26\S* AS build$`,
		`CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main\.version=\$\{VERSION\}"`,
		`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^USER 65532:65532$`,
		`(?m)^VOLUME \["/var/lib/g2msync"\]$`,
		`(?m)^EXPOSE 9464$`,
		`(?s)HEALTHCHECK .*CMD \["/usr/local/bin/g2msync", "healthcheck"\]`,
		`(?m)^ENTRYPOINT \["/usr/local/bin/g2msync"\]$`,
	} {
		if !regexp.MustCompile(re).MatchString(df) {
			t.Errorf("Dockerfile does not match %s", re)
		}
	}
	if strings.Count(df, "\nFROM ") != 2 {
		t.Errorf("want a two-stage build")
	}
	cmd := exec.Command("go", "list", "-deps", "-e", "-f", "{{with .Error}}{{.}}{{end}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("CGO_ENABLED=0 build of cmd/g2msync is not possible: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join("..", "..", ".dockerignore")); err != nil {
		t.Error("no .dockerignore: the build context would carry .git and state files")
	}
}

// TestSecurityDocNamesRealTests: every test docs/security.md cites as
// holding a promise exists, so the table cannot drift from the code.
func TestSecurityDocNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	err = filepath.WalkDir(filepath.Join("..", ".."), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w+)\(`).FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cited := regexp.MustCompile("`((?:Test|Fuzz)\\w+)`").FindAllSubmatch(doc, -1)
	if len(cited) < 30 {
		t.Fatalf("docs/security.md cites only %d tests", len(cited))
	}
	for _, m := range cited {
		if !defined[string(m[1])] {
			t.Errorf("docs/security.md cites %s, which no test file defines", m[1])
		}
	}
}

// The shell scripts an administrator runs parse, and install.sh installs a
// binary it is shipped with before it would ever need Go (sudo drops the
// user's PATH, and a build on the host takes minutes and gigabytes).
func TestScriptsParse(t *testing.T) {
	for _, s := range []string{"install.sh", "g2msync-admin", "release.sh"} {
		if out, err := exec.Command("sh", "-n", filepath.Join("..", "..", "scripts", s)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
	install, _ := os.ReadFile(filepath.Join("..", "..", "scripts", "install.sh"))
	bin, build := strings.Index(string(install), `[ -x "$top/g2msync" ]`), strings.Index(string(install), "go build")
	if bin < 0 || build < 0 || bin > build {
		t.Error("install.sh must prefer the binary of a release archive to building one")
	}
	for _, unit := range []string{"g2msync.service", "g2msync@.service", "g2msync-initial-sync.service"} {
		if !strings.Contains(string(install), unit) {
			t.Errorf("install.sh does not install %s", unit)
		}
	}
}

// adminScript is scripts/g2msync-admin rooted in a temporary directory:
// its /etc/g2msync, /var/lib/g2msync and service user replaced, and
// g2msync a stub that creates the state file and its lock where
// G2MSYNC_STATE_PATH says, as g2msync does, and records its environment.
func adminScript(t *testing.T) (script, etc, stateRoot string) {
	t.Helper()
	dir := t.TempDir()
	etc, stateRoot = filepath.Join(dir, "etc"), filepath.Join(dir, "state")
	for _, d := range []string{etc, stateRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	stub := filepath.Join(dir, "g2msync")
	os.WriteFile(stub, []byte("#!/bin/sh\nenv | grep -E '^(G2MSYNC_|CREDENTIALS_DIRECTORY)' | sort > \""+dir+"/env\"\n"+
		": > \"$G2MSYNC_STATE_PATH\" && : > \"$G2MSYNC_STATE_PATH.lock\"\n"), 0o755)
	raw, err := os.ReadFile(filepath.Join("..", "..", "scripts", "g2msync-admin"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("/usr/local/bin/g2msync", stub, "/var/lib/g2msync", stateRoot, "/etc/g2msync", etc,
		"owner=g2msync:g2msync", fmt.Sprintf("owner=%d:%d", os.Getuid(), os.Getgid())).Replace(string(raw))
	script = filepath.Join(dir, "g2msync-admin")
	if err := os.WriteFile(script, []byte(s), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, etc, stateRoot
}

// The state directory belongs to the service user, who could replace an
// instance's directory with a link: root's `g2msync-admin -i NAME` then
// created state.db and its lock in the link's target. It refuses such a
// link, dangling or not, and runs nothing; a missing directory is made,
// private, and the command runs with the instance's paths.
func TestAdminRefusesALinkedInstanceDirectory(t *testing.T) {
	script, etc, stateRoot := adminScript(t)
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	os.Mkdir(elsewhere, 0o755)
	for name, target := range map[string]string{"contoso": elsewhere, "fabrikam": filepath.Join(elsewhere, "missing")} {
		if err := os.Symlink(target, filepath.Join(stateRoot, name)); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", script, "-i", name, "run", "--once").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "is a symbolic link; g2msync-admin does not follow links") {
			t.Errorf("-i %s through a link to %s: %v\n%s", name, target, err, out)
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("root wrote through the link: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "env")); err == nil {
		t.Error("g2msync ran despite the link")
	}

	out, err := exec.Command("sh", script, "-i", "northwind", "run", "--once").CombinedOutput()
	if err != nil {
		t.Fatalf("-i northwind: %v\n%s", err, out)
	}
	inst := filepath.Join(stateRoot, "northwind")
	if fi, err := os.Lstat(inst); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("instance directory %v %v, want a directory of mode 0700", fi, err)
	}
	if _, err := os.Stat(filepath.Join(inst, "state.db")); err != nil {
		t.Errorf("the state file is not in the instance's directory: %v", err)
	}
	env, _ := os.ReadFile(filepath.Join(filepath.Dir(script), "env"))
	want := "CREDENTIALS_DIRECTORY=" + etc + "/credentials/northwind\nG2MSYNC_CONFIG=" + etc + "/northwind.yaml\nG2MSYNC_STATE_PATH=" + inst + "/state.db\n"
	if string(env) != want {
		t.Errorf("g2msync ran with\n%s\nwant\n%s", env, want)
	}
}
