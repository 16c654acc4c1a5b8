package pairlocal

import (
	"net/http"
	"testing"
)

func TestSetSigningRegion(t *testing.T) {
	const signed = "AWS4-HMAC-SHA256 Credential=AKID/20261130/eu-central-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
	tests := []struct {
		name, auth, ua   string
		wantRegion       string
		wantOK           bool
		wantAuth, wantUA string
		wantBeforeRegion string
	}{
		{
			name: "SigV4 scope rewritten", auth: signed, ua: "aws-sdk-go-v2/1.30",
			wantBeforeRegion: "eu-central-1", wantOK: true, wantRegion: "eu-west-1",
			wantAuth: "AWS4-HMAC-SHA256 Credential=AKID/20261130/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
			wantUA:   "aws-sdk-go-v2/1.30",
		},
		{
			name: "User-Agent region token rewritten too", auth: signed, ua: "Boto3/1.0 region/eu-central-1 x",
			wantBeforeRegion: "eu-central-1", wantOK: true, wantRegion: "eu-west-1",
			wantAuth: "AWS4-HMAC-SHA256 Credential=AKID/20261130/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
			wantUA:   "Boto3/1.0 region/eu-west-1 x",
		},
		{name: "unsigned", auth: "", ua: "x", wantAuth: "", wantUA: "x"},
		{name: "not SigV4", auth: "Bearer abc", ua: "x", wantAuth: "Bearer abc", wantUA: "x"},
		{name: "malformed scope", auth: "AWS4-HMAC-SHA256 Credential=AKID/20261130/dynamodb, Signature=abc", ua: "x",
			wantAuth: "AWS4-HMAC-SHA256 Credential=AKID/20261130/dynamodb, Signature=abc", wantUA: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.auth != "" {
				h.Set("Authorization", tt.auth)
			}
			h.Set("User-Agent", tt.ua)
			if got := SigningRegion(h); got != tt.wantBeforeRegion {
				t.Errorf("SigningRegion before = %q, want %q", got, tt.wantBeforeRegion)
			}
			if ok := SetSigningRegion(h, "eu-west-1"); ok != tt.wantOK {
				t.Errorf("SetSigningRegion = %v, want %v", ok, tt.wantOK)
			}
			if got := h.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
			if got := h.Get("User-Agent"); got != tt.wantUA {
				t.Errorf("User-Agent = %q, want %q", got, tt.wantUA)
			}
			if got := SigningRegion(h); got != tt.wantRegion {
				t.Errorf("SigningRegion after = %q, want %q", got, tt.wantRegion)
			}
		})
	}
}

func TestOwner(t *testing.T) {
	p, err := New(Config{Upstream: "http://127.0.0.1:1", Tables: map[string]string{"pair": "eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body string
		wantOwner  string
		wantOther  bool
		wantNames  string
	}{
		{"TableName", `{"TableName":"pair","Key":{}}`, "eu-west-1", false, "pair"},
		{"table ARN", `{"TableName":"arn:aws:dynamodb:eu-central-1:123456789012:table/pair"}`, "eu-west-1", false, "pair"},
		{"other table", `{"TableName":"orders"}`, "", true, ""},
		{"batch", `{"RequestItems":{"pair":[]}}`, "eu-west-1", false, "pair"},
		{"batch with a regional table", `{"RequestItems":{"pair":[],"orders":[]}}`, "eu-west-1", true, "pair"},
		{"transaction", `{"TransactItems":[{"Put":{"TableName":"orders"}},{"ConditionCheck":{"TableName":"pair"}}]}`, "eu-west-1", true, "pair"},
		{"not JSON", `{`, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner, other, names := p.owner("X", []byte(tt.body))
			if owner != tt.wantOwner || other != tt.wantOther || names != tt.wantNames {
				t.Errorf("owner = %q, %v, %q; want %q, %v, %q", owner, other, names, tt.wantOwner, tt.wantOther, tt.wantNames)
			}
		})
	}
}
