package triggers

import "github.com/homeregion/homeregion/shared/zonepair"

// PoolHome maps a trigger event's userPoolId to the home region whose users
// that pool holds here, and is the one home of the triggers' zone-pair rule:
//
//   - PAIR_USER_POOL_ID (the partner's pool, whose replica in this region
//     invokes these triggers with the primary's pool id) -> PAIR_REGION;
//   - a pool whose id names AWS_REGION (this region's own pool) -> AWS_REGION;
//   - anything else (a third region's pool, a partner-region pool that is not
//     the replicated one, a malformed or missing id) -> false: the triggers
//     refuse, fail closed, with reason unknown_pool.
//
// The pool's home decides what a trigger does: PreSignUp and PostConfirmation
// run only for this region's own pool (the partner's pool signs up and
// confirms at its primary), and PreAuth compares a user's claim with it.
func (c Config) PoolHome(poolID string) (home string, ok bool) {
	if c.PairUserPoolID != "" && poolID == c.PairUserPoolID {
		return c.PairRegion, c.PairRegion != ""
	}
	if r, ok := zonepair.PoolRegion(poolID); ok && r == c.Region {
		return r, true
	}
	return "", false
}
