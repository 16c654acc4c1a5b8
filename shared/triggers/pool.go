package triggers

import "github.com/homeregion/homeregion/shared/zonepair"

// PoolHome maps a trigger event's userPoolId to the home region whose users
// that pool holds here, and is the one home of the triggers' zone-pair rule:
//
//   - PAIR_USER_POOL_ID (the partner's pool, whose replica in this region
//     invokes these triggers with the primary's pool id) -> PAIR_REGION;
//   - in a pair, a pool id that names any region but this one (a third
//     region's pool, another pool of the partner's region) -> false: the
//     triggers refuse, fail closed, with reason unknown_pool;
//   - anything else -> AWS_REGION, as without a pair: this region's own
//     pool, the only one the functions' invoke permissions admit besides the
//     partner's, so an event's pool id (which Cognito always sets to the
//     invoking pool's) decides nothing more there.
//
// The pool's home decides what a trigger does: PreSignUp and PostConfirmation
// run only for this region's own pool (the partner's pool signs up and
// confirms at its primary), and PreAuth compares a user's claim with it.
func (c Config) PoolHome(poolID string) (home string, ok bool) {
	if c.PairUserPoolID == "" {
		return c.Region, true
	}
	if poolID == c.PairUserPoolID {
		return c.PairRegion, c.PairRegion != ""
	}
	if r, ok := zonepair.PoolRegion(poolID); ok && r != c.Region {
		return "", false
	}
	return c.Region, true
}
