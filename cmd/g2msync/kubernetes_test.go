package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

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
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(raw), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var head struct{ Kind string }
		json.Unmarshal(js, &head)
		var obj any
		switch head.Kind {
		case "Deployment":
			obj = &appsv1.Deployment{}
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		case "PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "Service":
			obj = &corev1.Service{}
		default:
			t.Fatalf("%s: unexpected kind %q", file, head.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("%s: %s: %v", file, head.Kind, err)
		}
		out[head.Kind] = obj
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
	env := envOf(c)
	switch {
	case d.Spec.Replicas == nil || *d.Spec.Replicas != 1:
		t.Error("replicas must be 1: one writer per state file")
	case d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType:
		t.Error("strategy must be Recreate")
	case pod.EnableServiceLinks == nil || *pod.EnableServiceLinks:
		t.Error("enableServiceLinks must be false")
	case pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot:
		t.Error("the pod must run as non-root")
	case c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation:
		t.Error("the container must have a read-only root filesystem and no privilege escalation")
	case c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz":
		t.Error("probes must be /healthz (liveness) and /readyz (readiness)")
	case c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero():
		t.Error("memory request and limit must be set")
	case !memLimitFromLimits(c):
		t.Error("GOMEMLIMIT must come from limits.memory")
	case mountOf(c, "state") != path.Dir(env["G2MSYNC_STATE_PATH"]):
		t.Errorf("state volume at %s, state file %s", mountOf(c, "state"), env["G2MSYNC_STATE_PATH"])
	case mountOf(c, "credentials") != env["CREDENTIALS_DIRECTORY"]:
		t.Errorf("credentials at %s, CREDENTIALS_DIRECTORY %s", mountOf(c, "credentials"), env["CREDENTIALS_DIRECTORY"])
	case !slices.Contains(c.Args, path.Join(mountOf(c, "config"), "g2msync.yaml")):
		t.Errorf("args %v do not read the mounted configuration", c.Args)
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
	creds := t.TempDir()
	for _, k := range []string{"entra-client-secret", "goto-client-secret", "status-token"} {
		os.WriteFile(filepath.Join(creds, k), []byte("x"), 0o400)
	}
	environ := []string{"CREDENTIALS_DIRECTORY=" + creds}
	for k, v := range env {
		if k != "CREDENTIALS_DIRECTORY" {
			environ = append(environ, k+"="+v)
		}
	}
	_, err := config.Parse([]byte(objs["ConfigMap"].(*corev1.ConfigMap).Data["g2msync.yaml"]), environ)
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("the ConfigMap's configuration: %v, want only its placeholders named", err)
	}
	for _, p := range cerr.Problems {
		if !strings.Contains(p.Msg, "placeholder") {
			t.Errorf("ConfigMap configuration: %s: %s", p.Key, p.Msg)
		}
	}

	// The first sync: an initContainer, not a hand-run Job, on the same
	// state file, with the image pinned as the daemon's.
	if len(pod.InitContainers) != 1 || !slices.Equal(pod.InitContainers[0].Args[:1], []string{"bootstrap"}) {
		t.Fatalf("init containers %v, want one running g2msync bootstrap", pod.InitContainers)
	}
	ic := pod.InitContainers[0]
	if envOf(ic)["G2MSYNC_STATE_PATH"] != env["G2MSYNC_STATE_PATH"] || mountOf(ic, "state") != mountOf(c, "state") ||
		envOf(ic)["CREDENTIALS_DIRECTORY"] != env["CREDENTIALS_DIRECTORY"] || mountOf(ic, "credentials") != mountOf(c, "credentials") {
		t.Error("the bootstrap container must write the state file the daemon reads, with its credentials")
	}
	if !memLimitFromLimits(ic) || ic.SecurityContext == nil || ic.SecurityContext.ReadOnlyRootFilesystem == nil || !*ic.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("bootstrap: GOMEMLIMIT from limits.memory and a read-only root filesystem")
	}
	for _, k := range []corev1.Container{c, ic} {
		if k.Image != ic.Image || !regexp.MustCompile(`:\d+\.\d+\.\d+$`).MatchString(k.Image) || k.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("%s: image %q pulled %q, want one pinned version for both, IfNotPresent", k.Name, k.Image, k.ImagePullPolicy)
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
