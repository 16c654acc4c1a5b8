package awsconfig

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// endpoints is the config source that gives service clients the SDK's
// standard endpoint variables. The SDK's clients look for the two methods
// below on every entry of aws.Config.ConfigSources (the config package's
// EnvConfig has the same ones).
type endpoints struct {
	getenv func(string) string
	base   string // AWS_ENDPOINT_URL
	ignore bool   // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
}

func readEndpoints(getenv func(string) string) (endpoints, error) {
	e := endpoints{getenv: getenv, base: getenv("AWS_ENDPOINT_URL")}
	if v := getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return endpoints{}, fmt.Errorf("awsconfig: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=%q: want true or false", v)
		}
		e.ignore = b
	}
	return e, nil
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e endpoints) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return e.ignore, e.ignore, nil
}

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<SDK ID> (upper case,
// spaces as underscores), e.g. AWS_ENDPOINT_URL_DYNAMODB.
func (e endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v := e.getenv(name); v != "" {
		return v, true, nil
	}
	return "", false, nil
}
