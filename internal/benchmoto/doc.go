// Package benchmoto holds the benchmarks that compare each handler with the
// raw AWS calls it cannot avoid, both against moto_server in the same run:
// PreSignUp vs one GetItem, PostConfirmation vs one conditional PutItem,
// PreAuth vs one GetItem, POST /orders
// vs one PutItem plus one SendMessage, and the processor vs a bare
// receive/delete loop. Every benchmark is named BenchmarkVsRaw/<case>/handler
// or BenchmarkVsRaw/<case>/raw; cmd/benchreport turns the pairs into ratios
// (the limit is 1.0: a handler cannot beat the calls it must make).
//
// Run: go test -run '^$' -bench VsRaw -benchmem -count 5 ./internal/benchmoto
package benchmoto
