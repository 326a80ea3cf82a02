package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// readmeBlock returns the first ```sh block after the README heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no heading %q", heading)
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(s[i:])
	if m == nil {
		t.Fatalf("README.md: no sh block under %q", heading)
	}
	return m[1]
}

// buildRelease runs scripts/release.sh for this machine's architecture
// into a temporary directory and returns it and the archive's base name.
func buildRelease(t *testing.T, version string) (out, name string) {
	t.Helper()
	out = t.TempDir()
	cmd := exec.Command("sh", filepath.Join("..", "..", "scripts", "release.sh"), version)
	cmd.Env = append(os.Environ(), "OUT="+out, "ARCHES="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, b)
	}
	return out, "g2msync-" + version + "-linux-" + runtime.GOARCH
}

// runInstallLines runs the README's install lines, as written but for the
// version and architecture, in dir; sudo is a stand-in that installs into
// root (DESTDIR), as `sudo` would into /.
func runInstallLines(t *testing.T, lines, dir, root string) (string, error) {
	t.Helper()
	shim := t.TempDir()
	if err := os.WriteFile(filepath.Join(shim, "sudo"), []byte("#!/bin/sh\nexec env DESTDIR=\"$TEST_ROOT\" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", lines)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+shim+":"+os.Getenv("PATH"), "TEST_ROOT="+root)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestReleaseInstallsAsTheReadmeSays builds a release archive with
// scripts/release.sh and runs the README's install lines on it, as written,
// into a throwaway root (a path with a space and a quote): the checksum is
// checked, the archive holds what the README links to, install.sh installs
// without systemd and says what it skipped, enables nothing, keeps an
// edited configuration when run again, and --uninstall removes what it
// installed and keeps the configuration and state. An altered archive
// stops at the checksum, before anything is unpacked or installed.
func TestReleaseInstallsAsTheReadmeSays(t *testing.T) {
	const version = "v0.0.0-test"
	out, name := buildRelease(t, version)
	lines := readmeBlock(t, "## Release artifacts")
	lines = strings.ReplaceAll(strings.ReplaceAll(lines, "VERSION", version), "linux-amd64", "linux-"+runtime.GOARCH)

	list, err := exec.Command("tar", "tzf", filepath.Join(out, name+".tar.gz")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/g2msync", "/scripts/install.sh", "/scripts/g2msync-admin", "/scripts/g2msync-initial-sync.service",
		"/scripts/kubernetes/g2msync.yaml", "/scripts/helm/g2msync/Chart.yaml", "/scripts/helm/g2msync/templates/deployment.yaml",
		"/scripts/helm/g2msync/files/dashboard.json", "/scripts/monitoring/alerts.yaml", "/scripts/monitoring/dashboard.json",
		"/docs/benchmarks.md", "/docs/runbook.md", "/man/g2msync.1", "/man/g2msync-run.1",
		"/completions/g2msync.bash", "/completions/_g2msync", "/completions/g2msync.fish", "/config/g2msync.example.yaml", "/README.md", "/LICENSE"} {
		if !strings.Contains(string(list), name+want+"\n") {
			t.Errorf("the archive lacks %s", want)
		}
	}

	root := filepath.Join(t.TempDir(), `root with "space" and 'quote'`)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := runInstallLines(t, lines, out, root)
	if err != nil {
		t.Fatalf("the README's install lines: %v\n%s", err, log)
	}
	for _, want := range []string{name + ".tar.gz: OK", "wrote /etc/g2msync/g2msync.yaml", "nothing is enabled or started",
		"Skipped:", "creating the g2msync user"} {
		if !strings.Contains(log, want) {
			t.Errorf("install output lacks %q:\n%s", want, log)
		}
	}
	// Here, without systemd as PID 1 (a container), or on a host with it,
	// into another root: no systemctl either way, and it says why.
	why := "systemctl daemon-reload (the destination is " + root + ", not the running system)"
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		why = "systemctl daemon-reload (systemd is not running as PID 1 here)"
	}
	if !strings.Contains(log, why) {
		t.Errorf("install output does not say it skipped %s:\n%s", why, log)
	}
	in := func(p string) string { return filepath.Join(root, p) }
	if v, err := exec.Command(in("usr/local/bin/g2msync"), "version").Output(); err != nil || !strings.Contains(string(v), version) {
		t.Errorf("installed binary: %v %s", err, v)
	}
	for _, p := range []string{"usr/local/sbin/g2msync-admin", "etc/systemd/system/g2msync.service", "etc/systemd/system/g2msync@.service",
		"usr/local/share/man/man1/g2msync.1", "usr/local/share/bash-completion/completions/g2msync", "etc/g2msync/credentials/goto-client-secret"} {
		if _, err := os.Stat(in(p)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if fi, err := os.Stat(in("etc/g2msync/credentials")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory %v %v, want mode 0700", fi, err)
	}
	if unit, _ := os.ReadFile(in("etc/systemd/system/g2msync-initial-sync.service")); !regexp.MustCompile(`(?m)^SuccessExitStatus=3 4$`).Match(unit) {
		t.Error("the first-sync unit does not let exit 3 and 4 start the daemon")
	}
	if wants, _ := filepath.Glob(in("etc/systemd/system/*.wants/*")); len(wants) > 0 {
		t.Errorf("enabled before the first sync: %v", wants)
	}

	// Again, over an edited configuration: an upgrade in place.
	cfg := in("etc/g2msync/g2msync.yaml")
	os.WriteFile(cfg, []byte("# edited by the administrator\n"), 0o644)
	os.WriteFile(in("etc/g2msync/credentials/goto-client-secret"), []byte("s3cret"), 0o600)
	if log, err := runInstallLines(t, lines, out, root); err != nil || !strings.Contains(log, "kept /etc/g2msync/g2msync.yaml") {
		t.Fatalf("second install: %v\n%s", err, log)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "# edited by the administrator\n" {
		t.Errorf("the second install replaced the configuration: %q", b)
	}
	if b, _ := os.ReadFile(in("etc/g2msync/credentials/goto-client-secret")); string(b) != "s3cret" {
		t.Errorf("the second install replaced a credential: %q", b)
	}

	// Uninstall, after the first sync's enable.
	os.MkdirAll(in("etc/systemd/system/multi-user.target.wants"), 0o755)
	os.Symlink("/etc/systemd/system/g2msync.service", in("etc/systemd/system/multi-user.target.wants/g2msync.service"))
	un := exec.Command("sh", filepath.Join(out, name, "scripts", "install.sh"), "--uninstall", "--root", root)
	if b, err := un.CombinedOutput(); err != nil || !strings.Contains(string(b), "disabled g2msync.service") || !strings.Contains(string(b), "Kept") {
		t.Fatalf("uninstall: %v\n%s", err, b)
	}
	for _, p := range []string{"usr/local/bin/g2msync", "usr/local/sbin/g2msync-admin", "etc/systemd/system/g2msync.service",
		"etc/systemd/system/multi-user.target.wants/g2msync.service", "usr/local/share/man/man1/g2msync.1"} {
		if _, err := os.Lstat(in(p)); err == nil {
			t.Errorf("left after uninstall: %s", p)
		}
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("uninstall removed the configuration: %v", err)
	}

	// An altered archive: the checksum stops the lines, nothing is unpacked.
	bad := t.TempDir()
	arch, _ := os.ReadFile(filepath.Join(out, name+".tar.gz"))
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	arch[len(arch)/2] ^= 0xff
	os.WriteFile(filepath.Join(bad, name+".tar.gz"), arch, 0o644)
	os.WriteFile(filepath.Join(bad, "SHA256SUMS"), sums, 0o644)
	badRoot := t.TempDir()
	if log, err := runInstallLines(t, lines, bad, badRoot); err == nil || !strings.Contains(log, "FAILED") {
		t.Errorf("altered archive: %v\n%s", err, log)
	}
	if entries, _ := os.ReadDir(badRoot); len(entries) > 0 {
		t.Errorf("an altered archive installed %v", entries)
	}
	if _, err := os.Stat(filepath.Join(bad, name)); err == nil {
		t.Error("an altered archive was unpacked")
	}
}

// A release version that is not the chart's appVersion (the image tag the
// chart and the manifests pin) is refused before anything is built.
func TestReleaseRefusesAVersionTheChartDoesNotPin(t *testing.T) {
	cmd := exec.Command("sh", filepath.Join("..", "..", "scripts", "release.sh"), "v99.0.0")
	cmd.Env = append(os.Environ(), "OUT="+t.TempDir(), "ARCHES="+runtime.GOARCH)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "has appVersion "+chartAppVersion(t)+", not 99.0.0") {
		t.Errorf("release.sh v99.0.0: %v\n%s", err, out)
	}
}
