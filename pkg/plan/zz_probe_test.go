package plan

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestZZProbe(t *testing.T) {
	b, _ := os.ReadFile("testdata/fuzz/FuzzCompute/" + os.Getenv("SEED"))
	line := strings.Split(string(b), "\n")[1]
	s, _ := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "[]byte("), ")"))
	in, _ := decodeInput([]byte(s))
	t.Logf("policy %+v allow=%v", in.Policy, in.AllowDisables)
	for _, a := range in.Accounts {
		t.Logf("acc %+v", a)
	}
	for _, r := range in.Records {
		t.Logf("rec %+v", r)
	}
	for _, r := range in.Remotes {
		t.Logf("rem %+v", r)
	}
	off := in
	off.Policy.MaxDisables, off.Policy.MaxDisablesPercent, off.AllowDisables = -1, 100, true
	p := Compute(off)
	for _, c := range append(append(p.Changes, p.Staged...), p.Skips...) {
		t.Logf("%s %s %s: %s", c.Kind, c.EntraID, c.GoToKey, c.Reason)
	}
	w := world{accounts: in.Accounts, records: in.Records, remotes: in.Remotes, policy: off.Policy}.apply(p)
	in2 := w.input()
	in2.AllowDisables = true
	p2 := Compute(in2)
	for _, c := range append(append(p2.Changes, p2.Staged...), p2.Skips...) {
		t.Logf("2: %s %s %s: %s", c.Kind, c.EntraID, c.GoToKey, c.Reason)
	}
}
