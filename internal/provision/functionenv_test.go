package provision

import "testing"

// BenchmarkFunctionEnv evaluates every function's environment in one region
// (intrinsics, conditions, placeholders) without touching moto.
func BenchmarkFunctionEnv(b *testing.B) {
	d, err := Load("../../template.yaml")
	if err != nil {
		b.Fatalf("load template.yaml: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		opts := Options{RegistryRegion: "eu-west-1", Parameters: map[string]string{SitePublicKeyParameter: "site-key"}}
		if _, err := FunctionEnv(d, opts, "us-east-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFunctionEnv(t *testing.T) {
	d, err := LoadFiles("testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		region, fn, key, want string
	}{
		{"eu-west-1", "PromoteFunction", "STANDBY_TASKS", "2"},
		{"eu-west-1", "ScaleFunction", "BACKLOG_PER_TASK", "10"},
		{"us-east-1", "PreSignUpFunction", "REGISTRY_REGION", "eu-west-1"},
		{"us-east-1", "PreSignUpFunction", "PII_KEY_ID", "homeregion-PiiReplicaKey"},
		{"eu-west-1", "PreSignUpFunction", "PII_KEY_ID", "homeregion-PiiKey"},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.key, func(t *testing.T) {
			fns, err := FunctionEnv(d, Options{RegistryRegion: "eu-west-1"}, tt.region)
			if err != nil {
				t.Fatal(err)
			}
			if got := fns[tt.fn].Env[tt.key]; got != tt.want {
				t.Fatalf("%s %s = %q, want %q", tt.fn, tt.key, got, tt.want)
			}
		})
	}
}

// TestFunctionEnvOfAPair: a region of a pair evaluates with the pair's
// parameters, its partner without them when not asked.
func TestFunctionEnvOfAPair(t *testing.T) {
	d, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{RegistryRegion: "eu-west-1", Parameters: map[string]string{SitePublicKeyParameter: "site-key"},
		Pairs: []Pair{{Regions: [2]string{"eu-west-1", "eu-central-1"}, Witness: "eu-west-3", TableName: "orders-pair"}}}
	for region, want := range map[string]map[string]string{
		"eu-central-1": {"PAIR_REGION": "eu-west-1", "ORDERS_TABLE": "orders-pair"},
		"us-east-1":    {"PAIR_REGION": "", "ORDERS_TABLE": "homeregion-OrdersTable"},
	} {
		fns, err := FunctionEnv(d, opts, region)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if got := fns["OrdersApiFunction"].Env[k]; got != v {
				t.Errorf("%s: OrdersApiFunction %s = %q, want %q", region, k, got, v)
			}
		}
	}
}
