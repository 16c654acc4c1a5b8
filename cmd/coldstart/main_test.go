package main

import (
	"bytes"
	"os"
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
