//go:build !alarmaction_failover && !alarmaction_promote && !alarmaction_scale

package main

import "github.com/homeregion/homeregion/shared/alarmaction"

// builtFor is empty: built without an action tag, this bootstrap serves
// every ACTION.
const builtFor alarmaction.Action = ""
