package tracing

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestInstrumentOnlyInLambda(t *testing.T) {
	tests := []struct {
		name, taskRoot, flag string
		want                 bool
	}{
		{"outside Lambda", "", "", false},
		{"inside Lambda", "/var/task", "", true},
		{"forced on outside Lambda", "", "on", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LAMBDA_TASK_ROOT": tt.taskRoot, "HOMEREGION_XRAY": tt.flag}
			getenv := func(k string) string { return env[k] }
			var cfg aws.Config
			Instrument(&cfg, getenv)
			if got := len(cfg.APIOptions) > 0; got != tt.want || Enabled(getenv) != tt.want {
				t.Fatalf("instrumented = %t, Enabled = %t, want %t", got, Enabled(getenv), tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	t.Setenv("_X_AMZN_TRACE_ID", "Root=1-env")
	//lint:ignore SA1029 aws-lambda-go stores the trace header under this string key
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-ctx")
	if got := Header(ctx); got != "Root=1-ctx" {
		t.Errorf("Header(invocation ctx) = %q, want the invocation's", got)
	}
	if got := Header(context.Background()); got != "" {
		t.Errorf("Header(no value) = %q, want none (never the shared process environment)", got)
	}
}
