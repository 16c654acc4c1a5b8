// Package tracing is the one seam between homeregion and its tracer, AWS
// X-Ray. Keeping every use of it here means OpenTelemetry can replace it in
// one package.
//
// Inside Lambda (LAMBDA_TASK_ROOT set) the SDK clients are instrumented so
// every AWS call becomes a subsegment of the function's facade segment (the
// one Lambda opens and names in the invocation's trace header); no segment is
// ever begun here. Outside Lambda (tests, the local stack, the on-prem
// processor) instrumentation is off unless HOMEREGION_XRAY=on, and
// AWS_XRAY_SDK_DISABLED=true turns it off everywhere.
//
// The subsegments are the ones the X-Ray SDK for Go's awsv2 instrumentor
// makes (name = the service, namespace aws, region, operation, request id,
// HTTP status, error/throttle/fault, the error as the cause), and each goes
// to the X-Ray daemon (AWS_XRAY_DAEMON_ADDRESS) as one UDP document when its
// call ends, with the trace header passed downstream to the service. They
// are built here rather than by the SDK's xray package because that package
// links gRPC and protobuf and initialises them, a sampling strategy and a
// marker file at every cold start: about 1.3 ms of a 2.5 ms hello-world
// cold start, for a function that needs none of it. What of the X-Ray SDK
// costs no init time is still used: its trace header type (package header)
// and its exception format (package strategy/exception).
package tracing

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Enabled reports whether AWS SDK calls are traced in a process whose
// environment getenv reads.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("AWS_XRAY_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("LAMBDA_TASK_ROOT") != "" || getenv("HOMEREGION_XRAY") == "on"
}

// Instrument adds X-Ray subsegments to every client built from cfg when
// tracing is enabled in getenv's environment. It sends them to the daemon at
// AWS_XRAY_DAEMON_ADDRESS (default 127.0.0.1:2000; Lambda sets it) and
// refuses a malformed address. It makes no network call: the daemon's socket
// is opened by the first subsegment.
func Instrument(cfg *aws.Config, getenv func(string) string) error {
	if !Enabled(getenv) {
		return nil
	}
	addr, err := daemonAddress(getenv("AWS_XRAY_DAEMON_ADDRESS"))
	if err != nil {
		return fmt.Errorf("tracing: AWS_XRAY_DAEMON_ADDRESS: %w", err)
	}
	m := &middleware{daemon: newDaemon(addr)}
	cfg.APIOptions = append(cfg.APIOptions, m.add)
	return nil
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
