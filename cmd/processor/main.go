// Command processor is the on-prem order processor that ECS Anywhere runs on
// each site: it drains the regional orders queue (in a zone pair, the
// partner region's too: PAIR_REGION, PAIR_QUEUE_URL) into the site's own
// database until SIGTERM or SIGINT, then drains gracefully and exits 0. Its
// configuration (environment variables, each overridable by a flag) is
// described in package processormain; `processor -h` lists it.
// `processor keygen FILE` writes a new site key file (SITE_KEY_FILE) and
// prints its public key, the orders API's SITE_PUBLIC_KEY.
//
// Adopters who add their own processing in Go build their own command the
// same way, with a processormain.Extension (see cmd/example-ledger).
package main

import (
	"os"

	"github.com/homeregion/homeregion/shared/processormain"
)

func main() { os.Exit(processormain.Run(os.Args[1:], os.Getenv, os.Stdout, processormain.Extension{})) }
