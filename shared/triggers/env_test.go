package triggers

import (
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	good := map[string]string{
		"AWS_REGION":      "eu-central-1",
		"RESIDENCY_TABLE": "homeregion-registry",
		"REGISTRY_REGION": "eu-west-1",
		"PII_KEY_ID":      "arn:aws:kms:eu-central-1:123456789012:key/mrk-1234abcd",
		"LOG_LEVEL":       "DEBUG",
	}
	tests := []struct {
		name     string
		change   map[string]string
		wantErr  string
		wantPair string // PairRegion; PairUserPoolID then is the trimmed PAIR_USER_POOL_ID
	}{
		{name: "valid"},
		{name: "alias key", change: map[string]string{"PII_KEY_ID": "alias/homeregion-pii"}},
		{name: "no region", change: map[string]string{"AWS_REGION": ""}, wantErr: "AWS_REGION is not set"},
		{name: "bad region", change: map[string]string{"AWS_REGION": "Frankfurt"}, wantErr: `AWS_REGION "Frankfurt" is not an AWS region name`},
		{name: "no table", change: map[string]string{"RESIDENCY_TABLE": " "}, wantErr: "RESIDENCY_TABLE is not set"},
		{name: "bad table", change: map[string]string{"RESIDENCY_TABLE": "a/b"}, wantErr: "RESIDENCY_TABLE \"a/b\" is not a DynamoDB table name"},
		{name: "short table", change: map[string]string{"RESIDENCY_TABLE": "ab"}, wantErr: "is not a DynamoDB table name"},
		{name: "long table", change: map[string]string{"RESIDENCY_TABLE": strings.Repeat("a", 256)}, wantErr: "is not a DynamoDB table name"},
		{name: "table with dots", change: map[string]string{"RESIDENCY_TABLE": "Homeregion.Registry_v-1"}},
		{name: "no registry region", change: map[string]string{"REGISTRY_REGION": ""}, wantErr: "REGISTRY_REGION is not set"},
		{name: "bad registry region", change: map[string]string{"REGISTRY_REGION": "eu-west"}, wantErr: "REGISTRY_REGION \"eu-west\" is not an AWS region name"},
		{name: "no key", change: map[string]string{"PII_KEY_ID": ""}, wantErr: "PII_KEY_ID is not set"},
		{name: "key with spaces", change: map[string]string{"PII_KEY_ID": "alias/a b"}, wantErr: "PII_KEY_ID contains white space"},
		{name: "region outside the policy", change: map[string]string{"AWS_REGION": "ap-south-1"}, wantErr: `AWS_REGION "ap-south-1" is in no residency zone`},
		{name: "paired", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "eu-west-1_AbC123xyz"}, wantPair: "eu-west-1"},
		{name: "paired, values padded", change: map[string]string{"PAIR_REGION": " eu-west-1 ", "PAIR_USER_POOL_ID": " eu-west-1_AbC123xyz\n"}, wantPair: "eu-west-1"},
		{name: "PAIR_REGION none, no pool: unpaired", change: map[string]string{"PAIR_REGION": "none"}},
		{name: "pool without PAIR_REGION", change: map[string]string{"PAIR_USER_POOL_ID": "eu-west-1_AbC123xyz"}, wantErr: "PAIR_USER_POOL_ID is set but PAIR_REGION is not"},
		{name: "pool with PAIR_REGION none", change: map[string]string{"PAIR_REGION": "none", "PAIR_USER_POOL_ID": "eu-west-1_AbC123xyz"}, wantErr: "PAIR_USER_POOL_ID is set but PAIR_REGION is not"},
		{name: "PAIR_REGION without pool", change: map[string]string{"PAIR_REGION": "eu-west-1"}, wantErr: `PAIR_USER_POOL_ID is not set: PAIR_REGION "eu-west-1" needs`},
		{name: "partner pool id of another region", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "us-east-1_AbC123xyz"}, wantErr: `PAIR_USER_POOL_ID "us-east-1_AbC123xyz" is a pool of us-east-1, not of PAIR_REGION eu-west-1`},
		{name: "partner pool id of this region", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "eu-central-1_AbC123xyz"}, wantErr: "is a pool of eu-central-1, not of PAIR_REGION eu-west-1"},
		{name: "partner pool id without region", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "AbC123xyz"}, wantErr: `PAIR_USER_POOL_ID "AbC123xyz" is not a Cognito user pool id`},
		{name: "partner pool id with an empty suffix", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "eu-west-1_"}, wantErr: "is not a Cognito user pool id"},
		{name: "partner pool id with a bad suffix", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "eu-west-1_ab/c"}, wantErr: "is not a Cognito user pool id"},
		{name: "partner pool arn", change: map[string]string{"PAIR_REGION": "eu-west-1", "PAIR_USER_POOL_ID": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC123xyz"}, wantErr: "is not a Cognito user pool id"},
		{name: "partner in another zone", change: map[string]string{"PAIR_REGION": "us-east-1", "PAIR_USER_POOL_ID": "us-east-1_AbC123xyz"}, wantErr: `PAIR_REGION "us-east-1" is not in the residency zone of eu-central-1`},
		{name: "partner is this region", change: map[string]string{"PAIR_REGION": "eu-central-1", "PAIR_USER_POOL_ID": "eu-central-1_AbC123xyz"}, wantErr: "PAIR_REGION \"eu-central-1\" is this region"},
		{name: "partner not a region", change: map[string]string{"PAIR_REGION": "Dublin", "PAIR_USER_POOL_ID": "eu-west-1_AbC123xyz"}, wantErr: `PAIR_REGION "Dublin" is not an AWS region name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range good {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			e, err := ParseEnv(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseEnv error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv: %v", err)
			}
			if e.Region != env["AWS_REGION"] || e.Table != env["RESIDENCY_TABLE"] || e.RegistryRegion != "eu-west-1" || e.PIIKeyID != env["PII_KEY_ID"] {
				t.Errorf("ParseEnv = %+v", e)
			}
			wantPool := ""
			if tt.wantPair != "" {
				wantPool = strings.TrimSpace(env["PAIR_USER_POOL_ID"])
			}
			if e.PairRegion != tt.wantPair || e.PairUserPoolID != wantPool {
				t.Errorf("ParseEnv pair = %q, %q; want %q, %q", e.PairRegion, e.PairUserPoolID, tt.wantPair, wantPool)
			}
		})
	}
}
