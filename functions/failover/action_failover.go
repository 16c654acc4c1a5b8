//go:build alarmaction_failover

package main

import "github.com/homeregion/homeregion/shared/alarmaction"

// builtFor is the one ACTION this bootstrap serves (build tag alarmaction_failover).
const builtFor = alarmaction.ActionFailover
