// Package internal is the parent of the packages only homeregion's tooling
// uses: the local multi-region stack (cmd/local) and its emulators, the
// provisioning of template.yaml into moto, the test harnesses, the template
// policy checks and the benchmarks. It holds no code itself.
//
// Nothing under functions/, shared/ or cmd/processor imports a package from
// here (TestDeployedBinariesLinkNoTooling checks it), so no deployed binary
// links tooling code.
//
// docs/architecture.md#folder-map lists every package with one line each.
package internal
