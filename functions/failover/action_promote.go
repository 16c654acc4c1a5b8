//go:build alarmaction_promote

package main

import "github.com/homeregion/homeregion/shared/alarmaction"

// builtFor is the one ACTION this bootstrap serves (build tag alarmaction_promote).
const builtFor = alarmaction.ActionPromote
