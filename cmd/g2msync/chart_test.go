package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/g2msync/g2msync/pkg/config"
	"github.com/g2msync/g2msync/pkg/sim/simtls"
)

// The chart is tested offline, with helm built from the Go module proxy
// (or $HELM, or helm on PATH): helm lint, helm template, and every rendered
// object decoded strictly into the Kubernetes API types.

var chartDir = filepath.Join("..", "..", "scripts", "helm", "g2msync")

// helmVersion is the helm the tests build when none is given.
const helmVersion = "helm.sh/helm/v4/cmd/helm@v4.3.2"

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// TestMain removes the binaries the tests built once per run (helm, and
// g2msync for the process tests) from the temporary directory.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range []string{helmPath, binPath} {
		if p != "" {
			os.RemoveAll(filepath.Dir(p))
		}
	}
	os.Exit(code)
}

// needTool skips the test when a tool it needs is missing, but fails it
// under CI=1, where .ci/run installs every tool.
func needTool(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is needed (CI=1): %v", name, err)
	}
	t.Skipf("%s is not available, skipping (CI=1 makes this a failure): %v", name, err)
}

// helmBin returns a helm binary: $HELM, helm on PATH, or helm built once
// per test run from the Go module proxy.
func helmBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HELM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	helmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "g2msync-helm-")
		if err != nil {
			helmErr = err
			return
		}
		cmd := exec.Command("go", "install", helmVersion)
		cmd.Dir = dir // outside this module: go install pkg@version ignores it anyway
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			helmErr = fmt.Errorf("go install %s: %v\n%s", helmVersion, err, out)
			return
		}
		helmPath = filepath.Join(dir, "helm")
	})
	needTool(t, "helm", helmErr)
	return helmPath
}

// helmRun runs helm with args and returns its standard output; a failure
// is returned with its standard error.
func helmRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// The CRDs of the Prometheus Operator are not in k8s.io/api. These mirror
// the fields of monitoring.coreos.com/v1 ServiceMonitor and PrometheusRule
// that the chart renders (prometheus-operator pkg/apis/monitoring/v1), so
// that a misspelt or misplaced field fails here as for the core types,
// without the operator's module (and a newer k8s.io/api) in go.mod.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string `json:"jobLabel,omitempty"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			TLSConfig     *struct {
				InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
				ServerName         string `json:"serverName,omitempty"`
				CAFile             string `json:"caFile,omitempty"`
				CertFile           string `json:"certFile,omitempty"`
				KeyFile            string `json:"keyFile,omitempty"`
			} `json:"tlsConfig,omitempty"`
			Relabelings       []relabelConfig `json:"relabelings,omitempty"`
			MetricRelabelings []relabelConfig `json:"metricRelabelings,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type relabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    string   `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []ruleGroup `json:"groups"`
	} `json:"spec"`
}

// ruleGroup is a Prometheus rule group, as in a rule file and a PrometheusRule.
type ruleGroup struct {
	Name     string `json:"name" yaml:"name"`
	Interval string `json:"interval,omitempty" yaml:"interval,omitempty"`
	Rules    []struct {
		Alert       string            `json:"alert,omitempty" yaml:"alert,omitempty"`
		Record      string            `json:"record,omitempty" yaml:"record,omitempty"`
		Expr        string            `json:"expr" yaml:"expr"`
		For         string            `json:"for,omitempty" yaml:"for,omitempty"`
		Labels      map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	} `json:"rules" yaml:"rules"`
}

// strictDecode decodes one YAML document into obj: an unknown or
// misspelt field, or a duplicated key, is an error.
func strictDecode(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(obj)
}

// chart is a rendered release: its objects by kind, each decoded strictly.
type chart map[string][]any

func (c chart) one(t *testing.T, kind string) any {
	t.Helper()
	if len(c[kind]) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(c[kind]), kind)
	}
	return c[kind][0]
}

// renderChart runs helm template for a release in a namespace with extra
// arguments (-f FILE, --set K=V) and decodes every object it renders.
func renderChart(t *testing.T, release, namespace string, args ...string) chart {
	t.Helper()
	out, err := helmRun(t, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, "helm template "+release, out)
}

// decodeObjects decodes every object of a multi-document YAML text (what
// names it in errors) strictly into its API type, by kind.
func decodeObjects(t *testing.T, what, text string) chart {
	t.Helper()
	c := chart{}
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(text, -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, doc)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Secret":
			obj = &corev1.Secret{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "monitoring.coreos.com/v1 ServiceMonitor":
			obj = &serviceMonitor{}
		case "monitoring.coreos.com/v1 PrometheusRule":
			obj = &prometheusRule{}
		default:
			t.Fatalf("%s: unexpected object %s %s", what, head.APIVersion, head.Kind)
		}
		if err := strictDecode([]byte(doc), obj); err != nil {
			t.Fatalf("%s: %s: %v\n%s", what, head.Kind, err, doc)
		}
		c[head.Kind] = append(c[head.Kind], obj)
	}
	return c
}

// deploymentProblems checks a Deployment as the manifests and the chart
// promise it: one replica (or none) with Recreate, no service links and no
// service account token, non-root read-only containers without
// capabilities, probes on /healthz and /readyz, GOMEMLIMIT from the memory
// limit, the state volume where G2MSYNC_STATE_PATH points, the credentials
// where CREDENTIALS_DIRECTORY points, the mounted configuration, and a
// bootstrap initContainer sharing them, with one pinned image for both.
func deploymentProblems(d *appsv1.Deployment) []string {
	var p []string
	pod := d.Spec.Template.Spec
	if d.Spec.Replicas == nil || *d.Spec.Replicas > 1 {
		p = append(p, "replicas must be 1 (or 0): one writer per state file")
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		p = append(p, "strategy must be Recreate")
	}
	if d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds < 1800 {
		p = append(p, "progressDeadlineSeconds must leave the first sync, in the first rollout, half an hour at least")
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		p = append(p, "enableServiceLinks must be false")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		p = append(p, "automountServiceAccountToken must be false")
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p = append(p, "the pod must run as non-root with the RuntimeDefault seccomp profile")
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 1 {
		return append(p, fmt.Sprintf("%d containers and %d init containers, want 1 and 1 (bootstrap)", len(pod.Containers), len(pod.InitContainers)))
	}
	c, ic := pod.Containers[0], pod.InitContainers[0]
	env := envOf(c)
	for _, k := range []corev1.Container{c, ic} {
		sc := k.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
			*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			p = append(p, k.Name+": a read-only root filesystem, no privilege escalation, every capability dropped")
		}
		if k.Resources.Requests.Memory().IsZero() || k.Resources.Limits.Memory().IsZero() || !memLimitFromLimits(k) {
			p = append(p, k.Name+": memory request and limit, and GOMEMLIMIT from limits.memory")
		}
		if k.Image != c.Image || !regexp.MustCompile(`(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})$`).MatchString(k.Image) || k.ImagePullPolicy != corev1.PullIfNotPresent {
			p = append(p, fmt.Sprintf("%s: image %q pulled %q, want one pinned version for both, IfNotPresent", k.Name, k.Image, k.ImagePullPolicy))
		}
		if envOf(k)["G2MSYNC_STATE_PATH"] != env["G2MSYNC_STATE_PATH"] || mountOf(k, "state") != path.Dir(env["G2MSYNC_STATE_PATH"]) {
			p = append(p, fmt.Sprintf("%s: state volume at %s, state file %s", k.Name, mountOf(k, "state"), envOf(k)["G2MSYNC_STATE_PATH"]))
		}
		if mountOf(k, "credentials") != envOf(k)["CREDENTIALS_DIRECTORY"] || envOf(k)["CREDENTIALS_DIRECTORY"] == "" {
			p = append(p, fmt.Sprintf("%s: credentials at %s, CREDENTIALS_DIRECTORY %s", k.Name, mountOf(k, "credentials"), envOf(k)["CREDENTIALS_DIRECTORY"]))
		}
		if !slices.Contains(k.Args, path.Join(mountOf(k, "config"), "g2msync.yaml")) {
			p = append(p, fmt.Sprintf("%s: args %v do not read the mounted configuration", k.Name, k.Args))
		}
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		p = append(p, "probes must be /healthz (liveness) and /readyz (readiness)")
	}
	if len(ic.Args) == 0 || ic.Args[0] != "bootstrap" || !slices.Contains(ic.Args, "--pat-file") {
		p = append(p, fmt.Sprintf("init container args %v, want g2msync bootstrap with --pat-file", ic.Args))
	}
	return p
}

// configProblems parses a rendered configuration with the container's
// environment and the given credentials as files, as g2msync would read
// them in the pod, and returns its problems.
func configProblems(t *testing.T, cfgYAML string, c corev1.Container, creds map[string]string) []config.Problem {
	t.Helper()
	dir := t.TempDir()
	for k, v := range creds {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	environ := []string{"CREDENTIALS_DIRECTORY=" + dir}
	for _, e := range c.Env {
		if e.Name != "CREDENTIALS_DIRECTORY" && e.ValueFrom == nil {
			environ = append(environ, e.Name+"="+e.Value)
		}
	}
	_, err := config.Parse([]byte(cfgYAML), environ)
	var cerr *config.Error
	if errors.As(err, &cerr) {
		return cerr.Problems
	}
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	return nil
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Version, AppVersion string }
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.AppVersion
}

// TestHelmChartLint: helm lint --strict passes for the default values and
// for the file with every option on.
func TestHelmChartLint(t *testing.T) {
	for _, args := range [][]string{nil, {"-f", filepath.Join(chartDir, "ci", "all-values.yaml")}} {
		if out, err := helmRun(t, append([]string{"lint", "--strict", chartDir}, args...)...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// TestHelmChartDefaults renders the chart with its default values: the
// objects of the plain manifests, the Deployment as promised, the image
// pinned to the chart's appVersion (the version the manifests and the
// README pin too), a configuration valid but for the placeholders an
// administrator fills in, a claim kept on uninstall, a Service Prometheus
// scrapes by annotation.
func TestHelmChartDefaults(t *testing.T) {
	c := renderChart(t, "contoso", "g2msync-contoso")
	for kind, n := range map[string]int{"ConfigMap": 1, "Secret": 1, "PersistentVolumeClaim": 1, "Deployment": 1, "Service": 1} {
		if len(c[kind]) != n {
			t.Errorf("%d objects of kind %s, want %d", len(c[kind]), kind, n)
		}
	}
	if len(c) != 5 {
		t.Errorf("kinds %v, want only the five of the plain manifests", slices.Sorted(func(yield func(string) bool) {
			for k := range c {
				if !yield(k) {
					return
				}
			}
		}))
	}
	d := c.one(t, "Deployment").(*appsv1.Deployment)
	for _, p := range deploymentProblems(d) {
		t.Error(p)
	}
	if d.Name != "contoso-g2msync" || d.Namespace != "g2msync-contoso" {
		t.Errorf("deployment %s/%s", d.Namespace, d.Name)
	}
	ctr := d.Spec.Template.Spec.Containers[0]
	app := chartAppVersion(t)
	if want := "registry.example.com/g2msync:" + app; ctr.Image != want {
		t.Errorf("image %s, want %s", ctr.Image, want)
	}
	manifests := kubeObjects(t, "g2msync.yaml")["Deployment"].(*appsv1.Deployment)
	if img := manifests.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":"+app) {
		t.Errorf("the manifests pin %s, the chart %s", img, app)
	}
	readme, _ := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if !strings.Contains(string(readme), "VERSION="+app+"\n") {
		t.Errorf("README.md does not build and push version %s", app)
	}
	if probs := probeSchemeProblems(t, ctr, c.one(t, "ConfigMap").(*corev1.ConfigMap).Data["g2msync.yaml"]); len(probs) > 0 {
		t.Error(probs)
	}
	for _, p := range configProblems(t, c.one(t, "ConfigMap").(*corev1.ConfigMap).Data["g2msync.yaml"], ctr, map[string]string{"entra-client-secret": "x", "goto-client-secret": "x"}) {
		if !strings.Contains(p.Msg, "placeholder") {
			t.Errorf("default configuration: %s: %s", p.Key, p.Msg)
		}
	}
	if pvc := c.one(t, "PersistentVolumeClaim").(*corev1.PersistentVolumeClaim); pvc.Annotations["helm.sh/resource-policy"] != "keep" ||
		d.Spec.Template.Spec.Volumes[2].PersistentVolumeClaim.ClaimName != pvc.Name {
		t.Errorf("claim %s %v: kept on uninstall, and the one the pod mounts", pvc.Name, pvc.Annotations)
	}
	if svc := c.one(t, "Service").(*corev1.Service); svc.Annotations["prometheus.io/scrape"] != "true" || svc.Annotations["prometheus.io/port"] != "9464" {
		t.Errorf("service annotations %v", svc.Annotations)
	}
	if s := c.one(t, "Secret").(*corev1.Secret); len(s.Data) != 0 {
		t.Errorf("the default Secret holds %v", s.Data)
	}
}

// TestHelmChartAllOptions renders ci/all-values.yaml, every option on:
// the ServiceMonitor, the PrometheusRule and the dashboard where asked,
// the Secret's values byte for byte (quotes, braces, a newline), a
// configuration with no problem at all, HTTPS probes and scrapes with
// listenTLS, the console's operators, extra env, volumes and scheduling.
func TestHelmChartAllOptions(t *testing.T) {
	c := renderChart(t, "contoso", "g2msync-contoso", "-f", filepath.Join(chartDir, "ci", "all-values.yaml"))
	d := c.one(t, "Deployment").(*appsv1.Deployment)
	for _, p := range deploymentProblems(d) {
		t.Error(p)
	}
	pod := d.Spec.Template.Spec
	ctr, ic := pod.Containers[0], pod.InitContainers[0]
	if d.Name != "contoso-g2m" || d.Labels["team"] != "identity" || d.Labels["cost-centre"] != "it 42" {
		t.Errorf("deployment %s, labels %v", d.Name, d.Labels)
	}
	secret := c.one(t, "Secret").(*corev1.Secret)
	want := map[string]string{"entra-certificate-password": `se"cr'et with spaces: and {{ braces }}`, "goto-client-secret": "goto-secret",
		"goto-personal-access-token": "pat-123", "notify-smtp-password": "smtp\npassword", "status-token": "status-token"}
	if len(secret.Data) != len(want) {
		t.Errorf("secret keys %v, want the %d non-empty ones", slices.Collect(func(yield func(string) bool) {
			for k := range secret.Data {
				if !yield(k) {
					return
				}
			}
		}), len(want))
	}
	creds := map[string]string{}
	for k, v := range want {
		if string(secret.Data[k]) != v {
			t.Errorf("secret %s = %q, want %q", k, secret.Data[k], v)
		}
		creds[k] = v
	}
	var cfgYAML string
	var dashboard *corev1.ConfigMap
	for _, o := range c["ConfigMap"] {
		cm := o.(*corev1.ConfigMap)
		if cm.Labels["grafana_dashboard"] == "1" {
			dashboard = cm
		} else {
			cfgYAML = cm.Data["g2msync.yaml"]
		}
	}
	// The files the pod mounts from Secrets (the Entra certificate, the
	// TLS pair, the operators) are the test's own files here.
	files := t.TempDir()
	local := strings.NewReplacer("/etc/g2msync-cert/", files+"/", "/run/secrets/g2msync-tls/", files+"/", "/run/secrets/g2msync-operators/", files+"/")
	ca, err := simtls.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteServerPEM(filepath.Join(files, "tls.crt"), filepath.Join(files, "tls.key"), "localhost"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(files, "app.pem"), rsaCertificatePEM(t), 0o600)
	os.WriteFile(filepath.Join(files, "operators"), nil, 0o600)
	inPod := ctr
	inPod.Env = slices.Clone(ctr.Env)
	for i := range inPod.Env {
		inPod.Env[i].Value = local.Replace(inPod.Env[i].Value)
	}
	if probs := configProblems(t, local.Replace(cfgYAML), inPod, creds); len(probs) > 0 {
		t.Errorf("the all-options configuration has problems: %+v", probs)
	}
	if p := probeSchemeProblems(t, ctr, cfgYAML); len(p) > 0 {
		t.Error(p)
	}
	if ctr.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
		t.Error("listenTLS: the probes must speak HTTPS")
	}
	env := envOf(ctr)
	if env["G2MSYNC_CONSOLE_DISABLED"] != "false" || mountOf(ctr, "operators") != path.Dir(env["G2MSYNC_CONSOLE_OPERATORS_FILE"]) ||
		mountOf(ctr, "tls") != path.Dir(env["G2MSYNC_LISTEN_TLS_CERT_FILE"]) {
		t.Errorf("console and TLS: env %v", env)
	}
	for _, k := range []corev1.Container{ctr, ic} {
		if envOf(k)["HTTPS_PROXY"] != "http://proxy.example.com:3128" || mountOf(k, "entra-certificate") != "/etc/g2msync-cert" {
			t.Errorf("%s: extraEnv and extraVolumeMounts missing", k.Name)
		}
	}
	if ic.Resources.Limits.Memory().String() != "768Mi" || ctr.Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("resources: bootstrap %v, daemon %v", ic.Resources.Limits, ctr.Resources.Limits)
	}
	if pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 || pod.Affinity == nil || pod.Affinity.NodeAffinity == nil ||
		pod.PriorityClassName != "business-critical" || len(pod.ImagePullSecrets) != 1 || *pod.TerminationGracePeriodSeconds != 60 {
		t.Error("scheduling options missing")
	}
	sm := c.one(t, "ServiceMonitor").(*serviceMonitor)
	if sm.Namespace != "monitoring" || sm.Spec.Endpoints[0].Scheme != "https" || sm.Labels["release"] != "kube-prometheus-stack" ||
		!slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"g2msync-contoso"}) {
		t.Errorf("service monitor %+v", sm)
	}
	svc := c.one(t, "Service").(*corev1.Service)
	if _, ok := svc.Annotations["prometheus.io/scrape"]; ok {
		t.Error("with a ServiceMonitor, the Service must not ask to be scraped by annotation too")
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, the Service has %q", k, v, svc.Labels[k])
		}
	}
	rule := c.one(t, "PrometheusRule").(*prometheusRule)
	for _, r := range rule.Spec.Groups[0].Rules {
		if r.Labels["team"] != "identity" || !strings.HasPrefix(r.Annotations["runbook_url"], "https://wiki.example.com/g2msync/runbook#") ||
			!strings.Contains(r.Expr, `job="contoso-g2m",namespace="g2msync-contoso"`) {
			t.Errorf("rule %s: labels %v, annotations %v, expr %s", r.Alert, r.Labels, r.Annotations, r.Expr)
		}
	}
	file, _ := os.ReadFile(filepath.Join(chartDir, "files", "dashboard.json"))
	if dashboard == nil || dashboard.Namespace != "monitoring" || dashboard.Data["g2msync.json"] != strings.TrimSuffix(string(file), "\n") ||
		!json.Valid([]byte(dashboard.Data["g2msync.json"])) {
		t.Error("the dashboard ConfigMap does not carry files/dashboard.json")
	}
}

// Two tenants on one cluster are two releases in two namespaces: no
// shared name, and each release's alerts select its own series. A release
// named after the chart keeps its name; existingSecret and existingClaim
// replace the chart's Secret and claim.
func TestHelmChartTwoTenants(t *testing.T) {
	a := renderChart(t, "contoso", "g2msync-contoso", "--set", "prometheusRule.enabled=true,serviceMonitor.enabled=true")
	b := renderChart(t, "g2msync-fabrikam", "g2msync-fabrikam", "--set", "prometheusRule.enabled=true,serviceMonitor.enabled=true",
		"--set", "existingSecret=fabrikam-credentials,persistence.existingClaim=fabrikam-state")
	// The longest release name helm takes (53): every name stays a DNS label.
	long := strings.Repeat("n", 53)
	for kind, objs := range renderChart(t, long, "g2msync-long", "--set", "prometheusRule.enabled=true,serviceMonitor.enabled=true") {
		for _, o := range objs {
			if name := o.(metav1.Object).GetName(); len(name) > 63 {
				t.Errorf("%s %s: longer than 63", kind, name)
			}
		}
	}
	da, db := a.one(t, "Deployment").(*appsv1.Deployment), b.one(t, "Deployment").(*appsv1.Deployment)
	if db.Name != "g2msync-fabrikam" || da.Name == db.Name {
		t.Errorf("names %s and %s", da.Name, db.Name)
	}
	if len(b["Secret"]) != 0 || len(b["PersistentVolumeClaim"]) != 0 {
		t.Error("existingSecret and existingClaim: the chart must make neither")
	}
	vols := db.Spec.Template.Spec.Volumes
	if vols[1].Secret.SecretName != "fabrikam-credentials" || vols[2].PersistentVolumeClaim.ClaimName != "fabrikam-state" {
		t.Errorf("volumes %+v", vols)
	}
	for _, r := range []struct {
		c   chart
		sel string
	}{{a, `{job="contoso-g2msync",namespace="g2msync-contoso"`}, {b, `{job="g2msync-fabrikam",namespace="g2msync-fabrikam"`},
		{renderChart(t, "northwind", "g2msync-northwind", "--set", "prometheusRule.enabled=true,prometheusRule.job=kubernetes-pods"),
			`{job="kubernetes-pods",namespace="g2msync-northwind"`}} {
		for _, rule := range r.c.one(t, "PrometheusRule").(*prometheusRule).Spec.Groups[0].Rules {
			if n := strings.Count(rule.Expr, "{"); n == 0 || strings.Count(rule.Expr, r.sel) != n {
				t.Errorf("%s: every selector must be %s}: %s", rule.Alert, r.sel, rule.Expr)
			}
		}
	}
}

// Values that cannot work are refused when rendering, saying why.
func TestHelmChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"replicaCount=2", "never more"},
		{"secrets.goto-client-secrett=x", "secrets.goto-client-secrett: not a credential name g2msync reads"},
		{"console.enabled=true", "console.enabled needs listenTLS.secretName and console.operatorsSecret"},
	} {
		out, err := helmRun(t, "template", "contoso", chartDir, "--set", tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: %v\n%s", tc.set, err, out)
		}
	}
}

// rsaCertificatePEM returns a self-signed RSA certificate and its key, PEM,
// as an app registration's certificate file holds them.
func rsaCertificatePEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "g2msync"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})...)
}
