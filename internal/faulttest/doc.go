// Package faulttest holds the fault-injection tests: the real handlers, with
// real SDK clients built like their functions build them (awsconfig.Load with
// the functions' retry and timeout options), talk to moto_server through
// internal/faultproxy, which adds latency, 5xx answers, throttling errors,
// connection resets, black holes and lost responses per API operation. The
// tests assert the properties the project claims under those faults:
//
//   - the Cognito triggers answer within their budget and fail closed;
//   - the orders API never answers 202 without a queued message and never
//     queues twice for one idempotency key (a response lost after SQS took
//     the message is the one case SQS's at-least-once delivery cannot rule
//     out; the site stores such an order exactly once);
//   - the on-prem processor loses and duplicates nothing;
//   - the alarm actions neither act twice for one alarm change nor flap;
//   - the ARC failover switch (SWITCH=arc, internal/arclocal's fake cluster)
//     passes over failing endpoints, never splits nor flaps, and converges
//     once an endpoint answers.
//
// Run: go test -count=1 ./internal/faulttest (needs moto_server).
package faulttest
