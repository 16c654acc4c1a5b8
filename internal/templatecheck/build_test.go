package templatecheck

import (
	"os"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// TestMakefileBuildsEveryFunction holds template.yaml's functions to the
// build contract: `sam build` runs the Makefile (BuildMethod: makefile) and
// finds a build-<LogicalId> target for each.
func TestMakefileBuildsEveryFunction(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, line := range strings.Split(string(mk), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(name, "build-") {
			targets[strings.TrimSpace(strings.TrimPrefix(name, "build-"))] = true
		}
	}
	fns := tpl.IDs("AWS::Serverless::Function")
	for _, fn := range append(sortedKeys(TriggerGrants), "OrdersApiFunction", ErasureFunctionID) {
		if tpl.Resource(fn) == nil {
			t.Errorf("template.yaml has no %s", fn)
		}
	}
	for _, fn := range fns {
		if m := tpl.Resource(fn).Metadata["BuildMethod"]; m != "makefile" {
			t.Errorf("%s is built with BuildMethod %v, want makefile", fn, m)
		}
		if !targets[fn] {
			t.Errorf("Makefile has no build-%s target (sam build, BuildMethod: makefile)", fn)
		}
	}
}
