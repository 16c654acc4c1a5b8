package arclocal_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53recoverycluster/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/homeregion/homeregion/internal/arclocal"
	"github.com/homeregion/homeregion/shared/awsclient/arcops"
)

const (
	west    = "arn:aws:route53-recovery-control::000000000000:controlpanel/p/routingcontrol/west"
	central = "arn:aws:route53-recovery-control::000000000000:controlpanel/p/routingcontrol/central"
	rule    = "arn:aws:route53-recovery-control::000000000000:controlpanel/p/safetyrule/one-on"
)

func start(t *testing.T, c *arclocal.Cluster, region string) arcops.Endpoint {
	t.Helper()
	e, err := c.Start(region)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return arcops.Endpoint{Region: e.Region, URL: e.URL}
}

func client() *arcops.Client {
	return arcops.New(aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}

// TestEndpointsShareOneClusterAndTheRuleHolds: a change through one endpoint
// is seen at another; the assertion rule refuses turning both Off with
// ConflictException and changes nothing; the log holds the one change.
func TestEndpointsShareOneClusterAndTheRuleHolds(t *testing.T) {
	c := arclocal.New()
	c.AddRoutingControl(west, "west", "p", arclocal.On)
	c.AddRoutingControl(central, "central", "p", arclocal.On)
	c.AddAssertionRule(arclocal.AssertionRule{ARN: rule, Controls: []string{west, central}, AtLeast: 1})
	a, b := start(t, c, "us-east-1"), start(t, c, "eu-west-1")
	cl, ctx := client(), context.Background()

	if err := cl.UpdateRoutingControlState(ctx, a, west, arcops.Off); err != nil {
		t.Fatal(err)
	}
	if st, err := cl.GetRoutingControlState(ctx, b, west); err != nil || st != arcops.Off {
		t.Fatalf("state at the other endpoint: %v %v, want Off", st, err)
	}
	err := cl.UpdateRoutingControlState(ctx, b, central, arcops.Off)
	var conflict *types.ConflictException
	var resp *smithyhttp.ResponseError
	if !errors.As(err, &conflict) || !errors.As(err, &resp) || resp.HTTPStatusCode() != http.StatusConflict || !arcops.Definitive(err) {
		t.Fatalf("both Off: %v, want a definitive ConflictException", err)
	}
	if c.State(central) != arclocal.On {
		t.Fatal("a refused update changed the state")
	}
	if got, want := c.Sequence(west), []arclocal.State{arclocal.On, arclocal.Off}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sequence %v, want %v", got, want)
	}
	if ch := c.Changes(); len(ch) != 1 || ch[0].Endpoint != "us-east-1" {
		t.Fatalf("changes %+v", ch)
	}
}

func TestErrors(t *testing.T) {
	c := arclocal.New()
	c.AddRoutingControl(west, "west", "p", arclocal.On)
	ep := start(t, c, "us-west-2")
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"unknown routing control", func() error { _, err := client().GetRoutingControlState(ctx, ep, "arn:nope"); return err }, "ResourceNotFoundException"},
		{"bad state", func() error { return client().UpdateRoutingControlState(ctx, ep, west, "Maybe") }, "ValidationException"},
		{"signed for another region", func() error {
			_, err := client().GetRoutingControlState(ctx, arcops.Endpoint{Region: "eu-west-1", URL: ep.URL}, west)
			return err
		}, "InvalidSignatureException"},
		{"unsigned", func() error { _, err := arcops.New(aws.Config{}).GetRoutingControlState(ctx, ep, west); return err }, "InvalidSignatureException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var apiErr smithy.APIError
			if err := tc.call(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
		})
	}
}

// TestBatchAndList: UpdateRoutingControlStates applies all entries or none,
// ListRoutingControls lists the states (raw JSON 1.0, as the SDK sends it).
func TestBatchAndList(t *testing.T) {
	c := arclocal.New()
	c.AddRoutingControl(west, "west", "p", arclocal.On)
	c.AddRoutingControl(central, "central", "p", arclocal.Off)
	c.AddAssertionRule(arclocal.AssertionRule{ARN: rule, Controls: []string{west, central}, AtLeast: 1})
	h := c.Handler("us-west-2")
	do := func(op, body string) *httptest.ResponseRecorder {
		r, _ := http.NewRequest(http.MethodPost, "/v1/", strings.NewReader(body))
		r.Header.Set("X-Amz-Target", "ToggleCustomerAPI."+op)
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-west-2/route53-recovery-cluster/aws4_request, SignedHeaders=host, Signature=x")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("UpdateRoutingControlStates", `{"UpdateRoutingControlStateEntries":[{"RoutingControlArn":"`+west+`","RoutingControlState":"Off"},{"RoutingControlArn":"`+central+`","RoutingControlState":"Off"}]}`); w.Code != http.StatusConflict {
		t.Fatalf("both Off in one batch: %d %s", w.Code, w.Body)
	}
	if w := do("UpdateRoutingControlStates", `{"SafetyRulesToOverride":["`+rule+`"],"UpdateRoutingControlStateEntries":[{"RoutingControlArn":"`+west+`","RoutingControlState":"Off"}]}`); w.Code != http.StatusOK {
		t.Fatalf("override: %d %s", w.Code, w.Body)
	}
	w := do("ListRoutingControls", `{}`)
	if w.Code != http.StatusOK || strings.Count(w.Body.String(), `"RoutingControlState":"Off"`) != 2 {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
}
