//go:build alarmaction_failover || alarmaction_promote || alarmaction_scale

package alarmaction

import "fmt"

// The failover function is deployed once per ACTION, and each deployment's
// bootstrap can be built for its one ACTION with a build tag
// (alarmaction_failover, alarmaction_promote or alarmaction_scale; the
// Makefile's build-FailoverFunction, build-PromoteFunction and
// build-ScaleFunction do): the SDK service packages the other actions use
// are then neither linked nor initialised at its cold start. Without a tag
// (tests, the local stack) every action is built. Route 53 and ARC are left
// out of promote and scale, ECS out of failover, SQS out of failover and
// promote.

// errNotBuilt is the error of a stand-in for an adapter left out of this
// bootstrap.
func errNotBuilt(service string) error {
	return fmt.Errorf("%s is not linked into this bootstrap (built for another ACTION)", service)
}
