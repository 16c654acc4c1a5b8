package internal

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeployedBinariesLinkNoTooling checks the layout's rule: no package a
// deployed binary links (the Lambda functions, the on-prem processor and
// everything under shared/) comes from internal/.
func TestDeployedBinariesLinkNoTooling(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/homeregion/homeregion/"
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}",
		module+"functions/...", module+"cmd/processor", module+"shared/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var seen int
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, module) {
			continue
		}
		seen++
		if strings.HasPrefix(p, module+"internal/") || strings.HasPrefix(p, module+"cmd/") && p != module+"cmd/processor" {
			t.Errorf("a deployed binary links %s: tooling must not reach production code", p)
		}
	}
	if seen < 10 {
		t.Fatalf("go list found only %d of the module's packages: the patterns are wrong", seen)
	}
}
