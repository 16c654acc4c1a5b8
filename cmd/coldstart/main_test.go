package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/coldstart"
	"github.com/homeregion/homeregion/shared/ordersapi"
)

func TestRunMeasuresTheFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a bootstrap")
	}
	t.Chdir("../..")
	out := filepath.Join(t.TempDir(), "cs.json")
	var stdout bytes.Buffer
	if err := run([]string{"-n", "1", "-only", "nothing-else", "-json", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	rep, err := coldstart.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].Name != coldstart.FloorName {
		t.Fatalf("rows = %+v, want only the floor", rep.Rows)
	}
	r := rep.Rows[0]
	if r.Skipped != "" || len(r.SamplesMs) != 1 || r.MedianMs <= 0 || r.Ratio != 1 || r.SizeArm64 <= 0 {
		t.Errorf("floor row = %+v", r)
	}
	if !strings.Contains(stdout.String(), coldstart.FloorName) {
		t.Errorf("table lacks the floor:\n%s", stdout.String())
	}
}

func TestMeasureReportsAnEarlyExit(t *testing.T) {
	// /bin/false exits at once without asking for work: a failed cold start.
	if _, err := measure("/bin/false", map[string]string{}, 5e9); err == nil || !strings.Contains(err.Error(), "exited before asking for work") {
		t.Fatalf("measure(/bin/false) error = %v", err)
	}
}

func TestFilterAndEnv(t *testing.T) {
	got := filter(Targets(), "orders-api")
	if len(got) != 2 || got[0].Name != coldstart.FloorName || got[1].Name != "orders-api" {
		t.Fatalf("filter = %+v", got)
	}
	e := env(got[1], "http://127.0.0.1:1", "/task")
	for _, k := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "ORDERS_TABLE", "ORDERS_QUEUE_URL", "SITE_PUBLIC_KEY", "LAMBDA_TASK_ROOT"} {
		if e[k] == "" {
			t.Errorf("env lacks %s", k)
		}
	}
	// The dummy values pass the function's own rules, the key included: a
	// cold start that failed on them would measure nothing.
	c, err := ordersapi.ParseEnv(func(k string) string { return e[k] })
	if err != nil {
		t.Fatalf("orders-api's dummy env: %v", err)
	}
	if n := len(c.SiteKey.String()); n != 1622 {
		t.Errorf("dummy SITE_PUBLIC_KEY is %d characters, want a real key's 1622", n)
	}
}

func TestBuildFlagsFollowTheMakefile(t *testing.T) {
	t.Chdir("../..")
	tags, ldflags := buildFlags()
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "-tags "+tags) || !strings.Contains(string(mk), "-ldflags='"+ldflags+"'") {
		t.Errorf("buildFlags = %q, %q: not the Makefile's LAMBDA_BUILD", tags, ldflags)
	}
	if !strings.Contains(tags, "lambda.norpc") {
		t.Errorf("tags %q lack lambda.norpc", tags)
	}
}

// TestTargetsFollowTheMakefile: every function row is built by a build
// target the Makefile has, and each failover row with the tag of its ACTION
// (so the measured bootstrap is the deployed one).
func TestTargetsFollowTheMakefile(t *testing.T) {
	t.Chdir("../..")
	mk, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range Targets() {
		if tg.Name == coldstart.FloorName {
			continue
		}
		if !strings.Contains(string(mk), "\n"+tg.MakeTarget+":") || tg.MakeTarget == "" {
			t.Errorf("%s: Makefile has no target %q", tg.Name, tg.MakeTarget)
		}
		want := ""
		if a := tg.Env["ACTION"]; a != "" {
			want = "alarmaction_" + a
		}
		if got := targetTags(tg.MakeTarget); got != want {
			t.Errorf("%s: targetTags(%s) = %q, want %q", tg.Name, tg.MakeTarget, got, want)
		}
	}
}

// TestBootstrapsLinkNoInitHeavyPackages holds every bootstrap, built as the
// Makefile builds it, to what its cold start must not initialise (package
// init runs for every linked package, called or not; GODEBUG=inittrace=1
// measures it): the X-Ray SDK's xray package with gRPC and protobuf (about
// 1.3 ms, package tracing makes the subsegments instead), the SDK's
// schema-serde packages (service/*/schemas: DynamoDB's 0.9 ms, ECS's 1.3 ms;
// go.mod pins the service modules below their first schema-serde release),
// and, per ACTION, the services only another action calls.
func TestBootstrapsLinkNoInitHeavyPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	t.Chdir("../..")
	forbidden := []string{
		"google.golang.org/grpc", "google.golang.org/protobuf",
		"github.com/aws/aws-xray-sdk-go/v2/xray",
	}
	perAction := map[string][]string{
		"failover": {"github.com/aws/aws-sdk-go-v2/service/ecs", "github.com/aws/aws-sdk-go-v2/service/sqs"},
		"promote":  {"github.com/aws/aws-sdk-go-v2/service/route53", "github.com/aws/aws-sdk-go-v2/service/route53recoverycluster", "github.com/aws/aws-sdk-go-v2/service/sqs"},
		"scale":    {"github.com/aws/aws-sdk-go-v2/service/route53", "github.com/aws/aws-sdk-go-v2/service/route53recoverycluster"},
	}
	tags, _ := buildFlags()
	for _, tg := range Targets() {
		t.Run(tg.Name, func(t *testing.T) {
			tt := tags
			if extra := targetTags(tg.MakeTarget); extra != "" {
				tt += "," + extra
			}
			cmd := exec.Command("go", "list", "-deps", "-tags", tt, tg.Package)
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", tg.Package, err)
			}
			for _, p := range strings.Fields(string(out)) {
				bad := strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") && strings.HasSuffix(p, "/schemas")
				for _, f := range append(forbidden, perAction[tg.Env["ACTION"]]...) {
					bad = bad || p == f || strings.HasPrefix(p, f+"/")
				}
				if bad {
					t.Errorf("%s links %s", tg.Package, p)
				}
			}
		})
	}
}
