package entrajob

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/g2msync/g2msync/pkg/config"
)

// FuzzSchema: any input the reader takes (a schema comes from Graph or a
// file) translates without panic or error beyond its refusals, and what it
// writes loads as configuration with exactly the translated mapping,
// matching, scope and policy: no name, expression or value from the
// schema can add a key or change another.
func FuzzSchema(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "schema.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"synchronizationRules":[{"objectMappings":[{"sourceObjectName":"User","attributeMappings":[` +
		`{"targetAttributeName":"userName","matchingPriority":1,"source":{"type":"Function","name":"Join","parameters":[` +
		`{"key":"separator","value":{"type":"Constant","name":"\n"}},{"key":"s","value":{"type":"Attribute","name":"mail"}}]}}],` +
		`"scope":{"groups":[{"name":"g","clauses":[{"operatorName":"Greater_Than","sourceOperandName":"employeeId","targetOperand":{"values":["3"]}}]}]}}]}]}`))
	f.Add([]byte(`{"synchronizationRules":[{"objectMappings":[{"sourceObjectName":"User","flowTypes":"Add","attributeMappings":[` +
		`{"targetAttributeName":"email","defaultValue":"x","flowType":"ObjectAddOnly","source":{"expression":"SelectUniqueValue([mail], [userPrincipalName])"}}]}]}]}`))
	conn := config.Default()
	conn.Entra.TenantID, conn.Entra.ClientID = "8f0e6b1a-1c1d-4d1e-9f00-000000000001", "8f0e6b1a-1c1d-4d1e-9f00-000000000002"
	conn.Entra.ServicePrincipalID = "8f0e6b1a-1c1d-4d1e-9f00-000000000003"
	conn.GoTo.ClientID = "goto-client"
	env := []string{"G2MSYNC_ENTRA_CLIENT_SECRET=x", "G2MSYNC_GOTO_CLIENT_SECRET=y"}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSchema(data)
		if err != nil {
			return
		}
		r, err := Translate(s)
		if err != nil {
			return
		}
		out, err := Render(r, conn, testApp, Origin{File: string(data[:min(len(data), 64)])})
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		cfg, _, err := config.ParseSetup(out, env)
		if err != nil {
			t.Fatalf("the written configuration does not load: %v\n%s", err, out)
		}
		if diff := cmp.Diff(r.Fields, cfg.Mapping); diff != "" {
			t.Fatalf("mapping as loaded differs (-translated +loaded):\n%s\n%s", diff, out)
		}
		if diff := cmp.Diff(r.Matching, cfg.Matching); diff != "" {
			t.Fatalf("matching as loaded differs:\n%s", diff)
		}
		if len(r.Filters) != len(cfg.Scope.Filters) || cfg.Policy != r.Policy || len(cfg.Roles) != 2 || cfg.Safety != config.Default().Safety {
			t.Fatalf("scope, policy, roles or safety changed:\n%s", out)
		}
		for i, f := range r.Filters {
			if diff := cmp.Diff(f, cfg.Scope.Filters[i]); diff != "" {
				t.Fatalf("filter %d as loaded differs:\n%s", i, diff)
			}
		}
	})
}
