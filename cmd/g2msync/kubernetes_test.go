package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/g2msync/g2msync/pkg/config"
)

// kubeObjects decodes a manifest file strictly into the Kubernetes API
// types: an unknown or misspelt field, or a duplicated key, is an error, as
// `kubectl apply --validate=strict` would make it.
func kubeObjects(t *testing.T, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "scripts", "kubernetes", file))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for kind, objs := range decodeObjects(t, file, string(raw)) {
		out[kind] = objs[0]
	}
	return out
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// memLimitFromLimits reports whether the container tells the Go runtime its
// memory limit (GOMEMLIMIT from limits.memory), so that the heap is
// collected harder near the limit instead of the pod being killed over it.
func memLimitFromLimits(c corev1.Container) bool {
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
			e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" {
			return true
		}
	}
	return false
}

func mountOf(c corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// TestKubernetesManifests checks the manifests against the API types and
// against g2msync itself: one replica with Recreate, no service links, a
// non-root read-only container, probes on /healthz and /readyz, the state
// volume where G2MSYNC_STATE_PATH points, the Secret where
// CREDENTIALS_DIRECTORY points with only credential names g2msync reads, a
// scrape annotation, and a ConfigMap whose configuration is valid but for
// the placeholders an administrator fills in.
func TestKubernetesManifests(t *testing.T) {
	objs := kubeObjects(t, "g2msync.yaml")
	d := objs["Deployment"].(*appsv1.Deployment)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	for _, p := range deploymentProblems(d) {
		t.Error(p)
	}
	svc := objs["Service"].(*corev1.Service)
	if svc.Annotations["prometheus.io/scrape"] != "true" || svc.Annotations["prometheus.io/port"] != "9464" {
		t.Errorf("service annotations %v", svc.Annotations)
	}
	if objs["PersistentVolumeClaim"].(*corev1.PersistentVolumeClaim).Name != pod.Volumes[2].PersistentVolumeClaim.ClaimName {
		t.Error("the state volume does not claim the manifest's PVC")
	}
	// Every Secret key is a credential name the systemd unit loads too.
	unit, _ := os.ReadFile(filepath.Join("..", "..", "scripts", "g2msync.service"))
	secret := objs["Secret"].(*corev1.Secret)
	for k := range secret.StringData {
		if !strings.Contains(string(unit), "LoadCredential="+k+":") {
			t.Errorf("secret key %s is not a credential name g2msync reads", k)
		}
	}
	// The ConfigMap's configuration, with the Deployment's environment and
	// the Secret as files, is valid but for its placeholders.
	cfg := objs["ConfigMap"].(*corev1.ConfigMap).Data["g2msync.yaml"]
	probs := configProblems(t, cfg, c, map[string]string{"entra-client-secret": "x", "goto-client-secret": "x", "status-token": "x"})
	if len(probs) == 0 {
		t.Error("the ConfigMap's configuration names no placeholder")
	}
	for _, p := range probs {
		if !strings.Contains(p.Msg, "placeholder") {
			t.Errorf("ConfigMap configuration: %s: %s", p.Key, p.Msg)
		}
	}
}

// probeSchemeProblems says which of the container's HTTP probes speak
// another scheme than the listener its configuration (cfgYAML, then the
// container's environment, as g2msync reads them) describes: a kubelet
// probing over HTTP a daemon that serves HTTPS fails every probe, and
// restarts a healthy pod for ever.
func probeSchemeProblems(t *testing.T, c corev1.Container, cfgYAML string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g2msync.yaml")
	if err := os.WriteFile(path, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, e := range c.Env {
		environ = append(environ, e.Name+"="+e.Value)
	}
	_, lt, err := config.Listener(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	want := corev1.URISchemeHTTP
	if lt.CertFile != "" {
		want = corev1.URISchemeHTTPS
	}
	var out []string
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"liveness", c.LivenessProbe}, {"readiness", c.ReadinessProbe}, {"startup", c.StartupProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			continue
		}
		got := p.probe.HTTPGet.Scheme
		if got == "" {
			got = corev1.URISchemeHTTP
		}
		if got != want {
			out = append(out, fmt.Sprintf("%s probe speaks %s to a listener that serves %s", p.name, got, want))
		}
	}
	return out
}

// The probes speak the listener's scheme: plain HTTP as the manifest
// ships, HTTPS once the variant its comments document (listen_tls from a
// mounted TLS Secret) is switched on. A TLS listener left with HTTP probes
// is caught.
func TestKubernetesProbesFollowListenTLS(t *testing.T) {
	objs := kubeObjects(t, "g2msync.yaml")
	d := objs["Deployment"].(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	cfgYAML := objs["ConfigMap"].(*corev1.ConfigMap).Data["g2msync.yaml"]
	if p := probeSchemeProblems(t, c, cfgYAML); len(p) > 0 {
		t.Errorf("as shipped: %v", p)
	}

	// The documented variant: the two settings and the mount, from the
	// manifest's comments.
	raw, err := os.ReadFile(filepath.Join("..", "..", "scripts", "kubernetes", "g2msync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tlsEnv := regexp.MustCompile(`(?m)^\s*#\s+- \{name: (G2MSYNC_LISTEN_TLS_(?:CERT|KEY)_FILE), value: (\S+)\}$`).FindAllStringSubmatch(string(raw), -1)
	mount := regexp.MustCompile(`(?m)^\s*#\s+- \{name: tls, mountPath: (\S+), readOnly: true\}$`).FindStringSubmatch(string(raw))
	if len(tlsEnv) != 2 || mount == nil {
		t.Fatalf("the manifest documents no TLS variant (listen_tls settings %v, mount %v)", tlsEnv, mount)
	}
	for _, m := range tlsEnv {
		if !strings.HasPrefix(m[2], mount[1]+"/") {
			t.Errorf("%s=%s is not in the documented mount %s", m[1], m[2], mount[1])
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: m[1], Value: m[2]})
	}
	if p := probeSchemeProblems(t, c, cfgYAML); len(p) != 3 {
		t.Errorf("TLS on, probes left on HTTP: %v, want all three caught", p)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		p.HTTPGet.Scheme = corev1.URISchemeHTTPS
	}
	if p := probeSchemeProblems(t, c, cfgYAML); len(p) > 0 {
		t.Errorf("TLS on, probes on HTTPS: %v", p)
	}
}
