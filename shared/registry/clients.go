package registry

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/homeregion/homeregion/shared/awsconfig"
)

// Clients returns the DynamoDB clients a Registry talks to, built from
// awscfg (awsconfig.Load: one config, instrumented in one place): local for
// awscfg's region and home for registryRegion, the same client when the two
// are equal. It is the one home of that rule for every function that reads
// or writes the registry (the triggers, the erasure worker). It makes no
// network call.
func Clients(awscfg aws.Config, registryRegion string) (local, home *dynamodb.Client) {
	local = dynamodb.NewFromConfig(awscfg)
	if registryRegion == awscfg.Region {
		return local, local
	}
	return local, dynamodb.NewFromConfig(awsconfig.ForRegion(awscfg, registryRegion))
}
