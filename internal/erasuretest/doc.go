// Package erasuretest holds the end-to-end tests of erasure: a region
// provisioned in moto_server from template.yaml, with the orders API, the
// erasure worker, the Cognito triggers and on-prem processors built from
// their functions' own cold starts and the template's variables, driven
// through every place a user's data lives (the pool, the registry, the
// orders table, the queue and its DLQ, the site databases). The package has
// no code besides its tests.
package erasuretest
