//go:build alarmaction_scale

package main

import "github.com/homeregion/homeregion/shared/alarmaction"

// builtFor is the one ACTION this bootstrap serves (build tag alarmaction_scale).
const builtFor = alarmaction.ActionScale
