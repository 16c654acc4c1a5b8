// Package tracing is the one seam between homeregion and its tracer, the AWS
// X-Ray SDK for Go (v2 module). The X-Ray SDK is in maintenance mode; keeping
// every use of it here means OpenTelemetry can replace it in one file.
//
// Inside Lambda (LAMBDA_TASK_ROOT set) the SDK clients are instrumented so
// every AWS call becomes a subsegment of the function's facade segment; no
// segment is ever begun here. Outside Lambda (tests, the local stack, the
// on-prem processor) instrumentation is off unless HOMEREGION_XRAY=on.
package tracing

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/v2/instrumentation/awsv2"
)

// Enabled reports whether AWS SDK calls are traced in a process whose
// environment getenv reads.
func Enabled(getenv func(string) string) bool {
	return getenv("LAMBDA_TASK_ROOT") != "" || getenv("HOMEREGION_XRAY") == "on"
}

// Instrument adds X-Ray subsegments to every client built from cfg when
// tracing is enabled in getenv's environment.
func Instrument(cfg *aws.Config, getenv func(string) string) {
	if Enabled(getenv) {
		awsv2.AWSV2Instrumentor(&cfg.APIOptions)
	}
}

// traceHeaderKey is the context key aws-lambda-go stores the invocation's
// X-Amzn-Trace-Id under.
const traceHeaderKey = "x-amzn-trace-id"

// Header returns the X-Ray trace header of the invocation in ctx ("" if none),
// ready to propagate, e.g. as SQS's AWSTraceHeader system attribute.
// aws-lambda-go puts it in every invocation's context (it also sets
// _X_AMZN_TRACE_ID, which this package does not read: the context is the
// invocation's own, the process environment is shared).
func Header(ctx context.Context) string {
	v, _ := ctx.Value(traceHeaderKey).(string)
	return v
}
