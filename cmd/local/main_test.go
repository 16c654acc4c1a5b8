package main

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/internal/template"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  string
		regions  string
		registry string
		state    string
	}{
		{name: "defaults", regions: "eu-west-1,us-east-1,eu-central-1", registry: "eu-west-1", state: ".local/stack.json"},
		{name: "three regions", args: []string{"-regions", "eu-central-1, eu-west-1,us-east-1", "-registry-region", "eu-central-1", "-dir", "/tmp/x"},
			regions: "eu-central-1,eu-west-1,us-east-1", registry: "eu-central-1", state: "/tmp/x/stack.json"},
		{name: "registry not local", args: []string{"-registry-region", "ap-south-1"}, wantErr: "not one of -regions"},
		{name: "bad region", args: []string{"-regions", "eu-west-1,mars"}, wantErr: `"mars" is not an AWS region name`},
		{name: "duplicate", args: []string{"-regions", "eu-west-1,eu-west-1"}, wantErr: "listed twice"},
		{name: "no regions", args: []string{"-regions", " , "}, wantErr: "at least one region"},
		{name: "bad level", args: []string{"-log-level", "loud"}, wantErr: "-log-level"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.regions, ","); got != tt.regions || o.registryRegion != tt.registry || o.stateFile != tt.state {
				t.Errorf("got regions %s registry %s state %s", got, o.registryRegion, o.stateFile)
			}
		})
	}
}

func TestPrintTryIt(t *testing.T) {
	s := localstate.State{MotoURL: "http://127.0.0.1:5000", RegistryRegion: "eu-west-1", Regions: []localstate.Region{
		{Region: "us-east-1", CognitoURL: "http://127.0.0.1:7001", OrdersAPIURL: "http://127.0.0.1:7002", UserPoolID: "us-east-1_p", ClientID: "cus"},
		{Region: "eu-west-1", CognitoURL: "http://127.0.0.1:6001", OrdersAPIURL: "http://127.0.0.1:6002", UserPoolID: "eu-west-1_p", ClientID: "ceu"},
	}}
	var b bytes.Buffer
	printTryIt(&b, s)
	out := b.String()
	for _, want := range []string{
		"aws cognito-idp sign-up --endpoint-url http://127.0.0.1:6001 --region eu-west-1 --client-id ceu",
		"Name=custom:region,Value=eu-west-1 Name=custom:country,Value=DE",
		"confirm-sign-up --endpoint-url http://127.0.0.1:6001 --region eu-west-1 --client-id ceu",
		"--auth-flow USER_PASSWORD_AUTH",
		"curl -s -X POST http://127.0.0.1:6002/orders",
		"Idempotency-Key: first-order-1",
		"sign-up --endpoint-url http://127.0.0.1:7001 --region us-east-1 --client-id cus",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The commands are valid bash once the two-space indent is removed.
	var script strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  ") {
			script.WriteString(strings.TrimPrefix(l, "  ") + "\n")
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command(bash, "-n")
	cmd.Stdin = strings.NewReader(script.String())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v: %s\n%s", err, msg, script.String())
	}
}

func TestRateEvery(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
		ok   bool
	}{
		{"rate(1 minute)", time.Minute, true},
		{"rate(5 minutes)", 5 * time.Minute, true},
		{"rate(2 hours)", 2 * time.Hour, true},
		{"rate(1 day)", 24 * time.Hour, true},
		{"rate(0 minutes)", 0, false},
		{"rate(1 fortnight)", 0, false},
		{"cron(0 12 * * ? *)", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, ok := rateEvery(tt.expr)
			if got != tt.want || ok != tt.ok {
				t.Errorf("rateEvery(%q) = %v, %v; want %v, %v", tt.expr, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	defs, err := template.Parse("t.yaml", []byte(`
Transform: AWS::Serverless-2016-10-31
Resources:
  ScaleFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Reconcile:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Api:
          Type: HttpApi
  Queue:
    Type: AWS::SQS::Queue
`))
	if err != nil {
		t.Fatal(err)
	}
	got := schedules(defs)
	if len(got) != 1 || got["ScaleFunction"] != "rate(1 minute)" {
		t.Errorf("schedules = %v", got)
	}
}

func TestSiteName(t *testing.T) {
	hb := func(site, action string) provision.AlarmDef {
		return provision.AlarmDef{Namespace: "Homeregion/Processor", MetricName: "Heartbeat", Dimensions: map[string]string{"Site": site}, Action: action}
	}
	tests := []struct {
		name string
		r    provision.Region
		want string
	}{
		{"promote alarm's site wins", provision.Region{Region: "eu-west-1", Alarms: []provision.AlarmDef{hb("site-b", ""), hb("site-a", "promote")}}, "site-a"},
		{"any heartbeat alarm", provision.Region{Region: "eu-west-1", Alarms: []provision.AlarmDef{{Namespace: "AWS/SQS"}, hb("site-b", "")}}, "site-b"},
		{"primary service", provision.Region{Region: "eu-west-1", PrimaryService: "processor-primary"}, "processor-primary"},
		{"fallback", provision.Region{Region: "eu-west-1"}, "local-eu-west-1-primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := siteName(&tt.r); got != tt.want {
				t.Errorf("siteName = %q, want %q", got, tt.want)
			}
		})
	}
}
