package cognitolocal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/homeregion/homeregion/internal/pairlocal"
	"github.com/homeregion/homeregion/shared/zonepair"
)

// Replica is another region's user pool replicated to the endpoint's region
// (Amazon Cognito multi-Region replication,
// https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-multi-region.html):
// the endpoint serves it with the same pool id, app clients, users and
// token issuer as the primary, by forwarding its calls to the primary's moto
// pool (the SigV4 credential scope rewritten to PrimaryRegion,
// pairlocal.SetSigningRegion), and invokes the endpoint's region's own
// pre authentication trigger, with userPoolId = PoolID (and region = the
// endpoint's region, where the trigger runs), around sign-in. The app
// clients' settings are the primary's (FromUserPoolClient).
//
// As Cognito documents for a secondary pool, the replica creates no users
// and changes nobody's password or profile: the operations in primaryOnly
// are refused with 400 OperationNotEnabledException, the error Cognito's API
// model gives for "operations that are not supported in secondary replica
// regions" (types.OperationNotEnabledException in the SDK), so pre sign-up
// and post confirmation never run at a replica. The replica is always
// ACTIVE (an INACTIVE replica's refusals are not emulated).
type Replica struct {
	// PoolID is the primary's user pool id, which the replica keeps
	// (e.g. eu-west-1_AbC123).
	PoolID string
	// PrimaryRegion is the primary's region, whose moto backend holds the
	// pool; it must be the region PoolID names (zonepair.PoolRegion).
	PrimaryRegion string
	// ClientIDs are the pool's app clients (the replica keeps them).
	ClientIDs []string
	// PreAuthentication is the replica region's own pre authentication
	// trigger (the one Config.PreAuthentication of this region is, as a
	// rule); nil means none.
	PreAuthentication Trigger
	// Users reads the pool's users in moto: a client for PrimaryRegion.
	// Required with PreAuthentication.
	Users Users
	// ExplicitAuthFlows and PreventUserExistenceErrors are the app
	// clients' settings, synchronised from the primary (see
	// Replica.FromUserPoolClient and Config's fields of the same names).
	ExplicitAuthFlows          map[string][]string
	PreventUserExistenceErrors bool
}

// FromUserPoolClient sets the app client's ExplicitAuthFlows and
// PreventUserExistenceErrors as DescribeUserPoolClient reports them at the
// primary.
func (rp *Replica) FromUserPoolClient(pc *ciptypes.UserPoolClientType) {
	c := Config{ExplicitAuthFlows: rp.ExplicitAuthFlows}
	c.FromUserPoolClient(pc)
	rp.ExplicitAuthFlows, rp.PreventUserExistenceErrors = c.ExplicitAuthFlows, c.PreventUserExistenceErrors
}

// primaryOnly are the operations a secondary pool refuses: creating users
// (sign-up, administrator creation and their confirmation), password
// resets and changes, profile (attribute) changes, TOTP MFA, and the other
// writes to the user directory and the pool's configuration, for which the
// primary is the authority (Cognito's multi-Region replication page).
var primaryOnly = map[string]bool{
	"SignUp": true, "AdminCreateUser": true, "ConfirmSignUp": true, "AdminConfirmSignUp": true, "ResendConfirmationCode": true,
	"ForgotPassword": true, "ConfirmForgotPassword": true, "AdminResetUserPassword": true, "AdminSetUserPassword": true, "ChangePassword": true,
	"UpdateUserAttributes": true, "AdminUpdateUserAttributes": true, "DeleteUserAttributes": true, "AdminDeleteUserAttributes": true,
	"VerifyUserAttribute": true, "GetUserAttributeVerificationCode": true,
	"AssociateSoftwareToken": true, "VerifySoftwareToken": true, "SetUserMFAPreference": true, "AdminSetUserMFAPreference": true,
	"DeleteUser": true, "AdminDeleteUser": true, "AdminDisableUser": true, "AdminEnableUser": true,
	"AdminAddUserToGroup": true, "AdminRemoveUserFromGroup": true, "AdminLinkProviderForUser": true, "AdminDisableProviderForUser": true,
	"UpdateUserPool": true, "DeleteUserPool": true, "AddCustomAttributes": true, "SetUserPoolMfaConfig": true,
	"CreateUserPoolClient": true, "UpdateUserPoolClient": true, "DeleteUserPoolClient": true,
	"CreateGroup": true, "UpdateGroup": true, "DeleteGroup": true,
}

// replica is a configured Replica and the endpoint that serves it.
type replica struct {
	Replica
	ep *Endpoint
}

// newReplicas checks cfg.Replicas and builds an endpoint for each, which
// applies Cognito's sign-in checks and the replica region's trigger to the
// primary's pool.
func newReplicas(cfg Config) ([]*replica, error) {
	var out []*replica
	for _, rp := range cfg.Replicas {
		region, ok := zonepair.PoolRegion(rp.PoolID)
		switch {
		case !ok:
			return nil, fmt.Errorf("cognitolocal: replica pool id %q names no region", rp.PoolID)
		case rp.PrimaryRegion != region:
			return nil, fmt.Errorf("cognitolocal: replica %s: PrimaryRegion %q is not the pool id's region", rp.PoolID, rp.PrimaryRegion)
		case rp.PrimaryRegion == cfg.Region || rp.PoolID == cfg.UserPoolID:
			return nil, fmt.Errorf("cognitolocal: replica %s: a pool is not replicated to its own region", rp.PoolID)
		case len(rp.ClientIDs) == 0:
			return nil, fmt.Errorf("cognitolocal: replica %s: ClientIDs is required", rp.PoolID)
		case rp.PreAuthentication != nil && rp.Users == nil:
			return nil, fmt.Errorf("cognitolocal: replica %s: Users is required with PreAuthentication", rp.PoolID)
		}
		for _, o := range out {
			if o.PoolID == rp.PoolID {
				return nil, fmt.Errorf("cognitolocal: replica %s configured twice", rp.PoolID)
			}
		}
		ep, err := New(Config{
			Region: cfg.Region, UserPoolID: rp.PoolID, ClientIDs: rp.ClientIDs, Upstream: cfg.Upstream,
			PreAuthentication: rp.PreAuthentication, Users: rp.Users,
			ExplicitAuthFlows: rp.ExplicitAuthFlows, PreventUserExistenceErrors: rp.PreventUserExistenceErrors,
			SignInUnavailable: cfg.SignInUnavailable, HTTPClient: cfg.HTTPClient, TriggerTimeout: cfg.TriggerTimeout,
			Logger: cfg.Logger.With("replica_of", rp.PrimaryRegion),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, &replica{Replica: rp, ep: ep})
	}
	return out, nil
}

// poolRef is what names a call's pool: the pool id, an app client, or a
// signed-in user's access token.
type poolRef struct {
	UserPoolID  string `json:"UserPoolId"`
	ClientID    string `json:"ClientId"`
	AccessToken string `json:"AccessToken"`
}

// replicaFor returns the replica a call is for, or nil.
func (e *Endpoint) replicaFor(body []byte) *replica {
	if len(e.replicas) == 0 {
		return nil
	}
	var ref poolRef
	if json.Unmarshal(body, &ref) != nil {
		return nil
	}
	for _, rp := range e.replicas {
		if ref.UserPoolID != "" && ref.UserPoolID == rp.PoolID ||
			ref.ClientID != "" && slices.Contains(rp.ClientIDs, ref.ClientID) ||
			ref.AccessToken != "" && rp.ep.ownsToken(ref.AccessToken) {
			return rp
		}
	}
	return nil
}

// serve answers a call for the replicated pool: refused when only the
// primary serves it, otherwise the primary's moto pool answers, with the
// replica region's trigger around sign-in.
func (rp *replica) serve(r *http.Request, op string, body []byte) (*reply, error) {
	if primaryOnly[op] {
		return nil, &apiError{http.StatusBadRequest, "OperationNotEnabledException",
			fmt.Sprintf("%s is not supported in a replica of user pool %s: it runs only in the primary region %s.", op, rp.PoolID, rp.PrimaryRegion)}
	}
	// Calls signed for a region reach the primary's moto backend; unsigned
	// ones (InitiateAuth, SignUp ...) name an app client, which moto finds
	// in any region.
	out := r.Clone(r.Context())
	pairlocal.SetSigningRegion(out.Header, rp.PrimaryRegion)
	return rp.ep.dispatch(out, op, body)
}
