// Package arccluster names what configuration says about a Route 53
// Application Recovery Controller (ARC) cluster, its regional endpoints and
// a routing control's states, without the SDK: a binary can hold and check
// ARC_ENDPOINTS without linking (and initialising at every cold start) the
// cluster's SDK client, which package arcops binds and whose Endpoint and
// State are these types.
package arccluster

// Endpoint is one of a cluster's regional endpoints.
type Endpoint struct {
	// Region is the endpoint's region, the SigV4 signing region.
	Region string
	// URL is the endpoint's base URL (https://host/v1 as ARC lists them).
	URL string
}

// State is a routing control's state.
type State string

// The routing control states, as the ARC API spells them.
const (
	On  State = "On"
	Off State = "Off"
)
