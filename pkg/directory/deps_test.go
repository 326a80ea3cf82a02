package directory

import (
	"os/exec"
	"strings"
	"testing"
)

// TestGraphSDKStaysInTheLeaf keeps msgraph-sdk-go and azidentity out of every
// package but the Graph reader and the command that wires it: they cost
// minutes and gigabytes to compile, and the engine's tests must not pay.
func TestGraphSDKStaysInTheLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "github.com/g2msync/g2msync/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/g2msync/g2msync/pkg/directory/graph": true,
		"github.com/g2msync/g2msync/cmd/g2msync":         true,
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		checked++
		heavy := strings.Contains(" "+deps, " github.com/microsoftgraph/") || strings.Contains(" "+deps, " github.com/Azure/azure-sdk-for-go/sdk/azidentity")
		if heavy && !allowed[pkg] {
			t.Errorf("%s imports the Graph SDK or azidentity; only %v may", pkg, allowed)
		}
		if !heavy && allowed[pkg] {
			t.Errorf("%s no longer imports the Graph SDK: update this test", pkg)
		}
	}
	if checked < 10 {
		t.Fatalf("go list returned only %d packages", checked)
	}
}
