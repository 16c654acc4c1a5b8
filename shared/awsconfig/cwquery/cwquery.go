// Package cwquery makes a CloudWatch client speak the awsQuery protocol
// instead of the SDK's default Smithy RPC v2 CBOR. CloudWatch accepts both;
// moto_server 5.2.1, which stands in for it locally, serves only awsQuery
// (CBOR gets a 404). It is a package of its own so that binaries without a
// CloudWatch client do not link one through awsconfig.
package cwquery

import (
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// Protocol is a cloudwatch client option: cloudwatch.NewFromConfig(cfg, cwquery.Protocol).
func Protocol(o *cloudwatch.Options) {
	o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801)
}

// ForEndpoint returns Protocol when a CloudWatch endpoint is configured
// through the SDK's standard variables (AWS_ENDPOINT_URL_CLOUDWATCH or
// AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true), i.e.
// when the client talks to a stand-in such as moto; against AWS itself the
// SDK's default protocol is kept.
func ForEndpoint(getenv func(string) string) []func(*cloudwatch.Options) {
	if getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "true" {
		return nil
	}
	if getenv("AWS_ENDPOINT_URL_CLOUDWATCH") != "" || getenv("AWS_ENDPOINT_URL") != "" {
		return []func(*cloudwatch.Options){Protocol}
	}
	return nil
}
