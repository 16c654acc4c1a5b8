// Package shared is the parent of the packages homeregion's deployed
// binaries share: the Lambda functions under functions/ and the on-prem
// processor (cmd/processor). It holds no code itself.
//
// What belongs under shared/: code that runs in production, in a package
// named for what it provides (residency, orders, ordertable, lease, ...);
// never a "util", "common" or "types" grab-bag, and never test harnesses,
// emulators or benchmarks, which live under internal/. A package here may be
// imported by adopters (the processor's extension point), so its exported
// names are documented and its errors are values callers can test.
//
// docs/architecture.md#folder-map lists every package with one line each.
package shared
