package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/g2msync/g2msync/pkg/sim/gotosim"
	"github.com/g2msync/g2msync/pkg/sim/scenario"
)

var monitoringDir = filepath.Join("..", "..", "scripts", "monitoring")

// alertFile is scripts/monitoring/alerts.yaml, decoded strictly.
func alertFile(t *testing.T) (raw []byte, groups []ruleGroup) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(monitoringDir, "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []ruleGroup `json:"groups"`
	}
	if err := strictDecode(raw, &f); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	return raw, f.Groups
}

// The plain rule file is the chart's rules for the job "g2msync" with no
// namespace: the same alerts, expressions and words. -update rewrites it
// from the chart, keeping its opening comment.
func TestAlertRulesMatchTheChart(t *testing.T) {
	c := renderChart(t, "g2msync", "NS", "--set", "prometheusRule.enabled=true,fullnameOverride=g2msync")
	rule := c.one(t, "PrometheusRule").(*prometheusRule)
	js, _ := json.Marshal(rule.Spec.Groups)
	var want []ruleGroup
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(js), `,namespace=\"NS\"`, "")), &want); err != nil {
		t.Fatal(err)
	}
	raw, got := alertFile(t)
	if *update {
		var body bytes.Buffer
		body.Write(regexp.MustCompile(`(?s)^(#[^\n]*\n)*`).Find(raw))
		enc := yamlv3.NewEncoder(&body)
		enc.SetIndent(2)
		if err := enc.Encode(struct {
			Groups []ruleGroup `yaml:"groups"`
		}{want}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(monitoringDir, "alerts.yaml"), body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("scripts/monitoring/alerts.yaml differs from the chart's rules (go test -run TestAlertRulesMatchTheChart -update rewrites it):\n%s\nwant\n%s", gj, wj)
	}
}

// TestAlertRules runs promtool: the rule file and the chart's rendered
// rules are valid, and alerts_test.yaml's cases (each alert firing, and
// not firing where it must not) pass. Every alert has a summary, a
// description and a runbook link to a section of docs/runbook.md, and a
// case of each kind in alerts_test.yaml.
func TestAlertRules(t *testing.T) {
	_, groups := alertFile(t)
	runbook, err := os.ReadFile(filepath.Join("..", "..", "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := os.ReadFile(filepath.Join(monitoringDir, "alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(cases, &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			n++
			anchor := strings.ToLower(r.Alert)
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" ||
				r.Annotations["runbook_url"] != "https://github.com/g2msync/g2msync/blob/main/docs/runbook.md#"+anchor {
				t.Errorf("%s: annotations %v, want a summary, a description and the runbook's #%s", r.Alert, r.Annotations, anchor)
			}
			if !regexp.MustCompile(`(?m)^## ` + r.Alert + `$`).Match(runbook) {
				t.Errorf("docs/runbook.md has no section ## %s", r.Alert)
			}
			if r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning" {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: alerts_test.yaml tests it firing %v, not firing %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
		}
	}
	if n < 9 {
		t.Errorf("only %d alert rules", n)
	}

	promtool, err := exec.LookPath("promtool")
	needTool(t, "promtool (Debian's prometheus package)", err)
	if out, err := exec.Command(promtool, "check", "rules", filepath.Join(monitoringDir, "alerts.yaml")).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules alerts.yaml: %v\n%s", err, out)
	}
	cmd := exec.Command(promtool, "test", "rules", "alerts_test.yaml")
	cmd.Dir = monitoringDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
	// The chart's rules as a release renders them, all options on.
	c := renderChart(t, "contoso", "g2msync-contoso", "-f", filepath.Join(chartDir, "ci", "all-values.yaml"))
	body, err := yaml.Marshal(map[string]any{"groups": c.one(t, "PrometheusRule").(*prometheusRule).Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "chart-rules.yaml")
	os.WriteFile(file, body, 0o644)
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the chart's PrometheusRule: %v\n%s", err, out)
	}
}

// monitoredMetrics returns the metric names the alert rules and the
// dashboard query, each with the label names their selectors and
// groupings use, but for the target's (job, namespace, instance), le and
// Prometheus's own up.
func monitoredMetrics(t *testing.T) map[string][]string {
	t.Helper()
	raw, groups := alertFile(t)
	_ = raw
	var exprs []string
	for _, g := range groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	dash, err := os.ReadFile(filepath.Join(chartDir, "files", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"(?:expr|query)": "((?:[^"\\]|\\.)*)"`).FindAllSubmatch(dash, -1) {
		var s string
		json.Unmarshal([]byte(`"`+string(m[1])+`"`), &s)
		exprs = append(exprs, s)
	}
	out := map[string][]string{}
	target := []string{"job", "namespace", "instance", "le"}
	metric := regexp.MustCompile(`\b((?:g2msync|process)_[a-z_]+)\b(\{[^}]*\})?`)
	for _, e := range exprs {
		for _, m := range metric.FindAllStringSubmatch(e, -1) {
			name := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(m[1], "")
			if _, ok := out[name]; !ok {
				out[name] = nil
			}
			for _, l := range regexp.MustCompile(`([a-z_]+)\s*=~?`).FindAllStringSubmatch(m[2], -1) {
				if !slices.Contains(target, l[1]) && !slices.Contains(out[name], l[1]) {
					out[name] = append(out[name], l[1])
				}
			}
		}
		// by (…) groupings name labels of the aggregated metric.
		for _, m := range regexp.MustCompile(`by \(([^)]*)\) \(\w*\(?((?:g2msync|process)_[a-z_]+)`).FindAllStringSubmatch(e, -1) {
			name := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(m[2], "")
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); !slices.Contains(target, l) && !slices.Contains(out[name], l) {
					out[name] = append(out[name], l)
				}
			}
		}
	}
	return out
}

// TestMonitoringMetricsExist runs the daemon against the simulators (a
// first sync short of seats, a request for a full sync, a leaver, a GoTo
// 429) and checks that every metric the alert rules and the dashboard
// name is on its /metrics, with the labels they select and group by.
func TestMonitoringMetricsExist(t *testing.T) {
	want := monitoredMetrics(t)
	if len(want) < 15 {
		t.Fatalf("the rules and the dashboard name only %d metrics: %v", len(want), want)
	}
	pw := newProcWorld(t, scenario.Options{Groups: []scenario.GroupSpec{{Name: "Sales", Size: 20}}, DirectAdmins: 2, PreExisting: 2, Seats: 15}, "@every 1s")
	if code, out := pw.exitCode("bootstrap"); code != ExitOK {
		t.Fatalf("bootstrap: exit %d\n%s", code, out)
	}
	cmd, _, stderr := pw.command("run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, stderr)
			}
		}
	}
	waitFor("a cycle", func() bool { s, err := pw.status(); return err == nil && len(s.Cycles) >= 2 })
	pw.w.GoTo.InjectFault(gotosim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	pw.w.RemoveFromGroup(pw.w.InScope(false)[0].ID)
	if code, out := pw.exitCode("run", "--once", "--initial-sync"); code != ExitOK || !strings.Contains(out, "next cycle will be a full sync") {
		t.Fatalf("full sync request: exit %d\n%s", code, out)
	}
	// A vector shows on /metrics once it has a series: wait for all of
	// them (the full sync, the disable, the 429), then say which are missing.
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + pw.listen + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if !slices.ContainsFunc(slices.Collect(maps.Keys(want)), func(name string) bool { return !strings.Contains(body, "\n"+name) }) {
			break
		}
	}
	// Not in a rule or the dashboard, but the seats' holders are counted
	// by a real cycle too.
	if !regexp.MustCompile(`(?m)^g2msync_license_seats_held\{holder="managed_active",license="[0-9]+"\} [1-9]`).MatchString(body) {
		t.Errorf("/metrics has no managed seats of a licence:\n%s", body)
	}
	for name, labels := range want {
		series := regexp.MustCompile(`(?m)^`+name+`(?:_bucket|_sum|_count)?(\{[^}]*\})? `).FindAllStringSubmatch(body, -1)
		if len(series) == 0 {
			t.Errorf("/metrics has no series of %s", name)
			continue
		}
		for _, l := range labels {
			if !slices.ContainsFunc(series, func(s []string) bool { return strings.Contains(s[1], l+`="`) }) {
				t.Errorf("%s has no label %s on /metrics", name, l)
			}
		}
	}
}
