package provision

import "testing"

// BenchmarkFunctionEnv evaluates every function's environment in one region
// (intrinsics, conditions, placeholders) without touching moto.
func BenchmarkFunctionEnv(b *testing.B) {
	d, err := Load("../../template.yaml")
	if err != nil {
		b.Skip("no template.yaml")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FunctionEnv(d, Options{RegistryRegion: "eu-west-1"}, "us-east-1"); err != nil {
			b.Fatal(err)
		}
	}
}
