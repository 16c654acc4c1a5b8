package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/motoserver"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/sealed"
)

// TestRunEndToEnd starts the whole stack (its own moto_server), signs up,
// signs in and orders through the local endpoints with the real SDK and
// HTTP, then stops it as Ctrl-C would and checks nothing is left running.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts moto_server and the whole stack")
	}
	dir := t.TempDir()
	template := filepath.Join("..", "..", "template.yaml")
	if p := os.Getenv("LOCAL_TEST_TEMPLATE"); p != "" { // e.g. ../../internal/provision/testdata/template.yaml
		template = p
	}
	o, err := parseFlags([]string{"-dir", dir, "-template", template, "-log-level", "warn"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, provisionStack, pw, io.Discard); pw.Close() }()

	ready, scanned := make(chan struct{}), make(chan struct{})
	var out strings.Builder
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		closed := false
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "ready in ") && !closed {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run ended before ready: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("not ready within 90 s")
	}

	st, err := localstate.Load(o.stateFile) // what cmd/demo reads
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Regions) != 3 || st.PID != os.Getpid() {
		t.Fatalf("state = %+v", st)
	}
	eu, us := st.Regions[0], st.Regions[1]
	// Each region has its own site key pair: the processor's key file and
	// the public key its orders API seals to.
	for _, r := range st.Regions {
		pub, err := sealed.ParsePublicKey(r.SitePublicKey)
		if err != nil {
			t.Fatalf("%s: site public key: %v", r.Region, err)
		}
		ring, err := sealed.ReadKeyFile(r.SiteKeyFile)
		if err != nil {
			t.Fatalf("%s: site key file: %v", r.Region, err)
		}
		if ids := ring.KeyIDs(); len(ids) != 1 || ids[0] != pub.KeyID() || !strings.HasPrefix(r.SiteKeyFile, dir) {
			t.Fatalf("%s: key file %s holds %v, want [%s] under %s", r.Region, r.SiteKeyFile, ids, pub.KeyID(), dir)
		}
	}
	if eu.SitePublicKey == us.SitePublicKey {
		t.Fatal("both regions share a site key")
	}
	idp := func(r localstate.Region) *cip.Client {
		cfg := motoserver.Config(r.CognitoURL, r.Region)
		return cip.NewFromConfig(cfg, func(o *cip.Options) { o.RetryMaxAttempts = 1 })
	}
	const email, password = "e2e@example.com", "Correct-Horse-42"
	signUp := func(r localstate.Region, country string) error {
		_, err := idp(r).SignUp(ctx, &cip.SignUpInput{ClientId: &r.ClientID, Username: aws.String(email), Password: aws.String(password),
			UserAttributes: []ciptypes.AttributeType{
				{Name: aws.String("email"), Value: aws.String(email)},
				{Name: aws.String("custom:region"), Value: aws.String(r.Region)},
				{Name: aws.String("custom:country"), Value: aws.String(country)},
			}})
		return err
	}
	if err := signUp(eu, "DE"); err != nil {
		t.Fatalf("sign-up in eu-west-1: %v", err)
	}
	// Confirming with the (mailed) code verifies the address; PostConfirmation
	// claims it for eu-west-1, so another region's sign-up is then refused.
	if _, err := idp(eu).ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{ClientId: &eu.ClientID, Username: aws.String(email), ConfirmationCode: aws.String("123456")}); err != nil {
		t.Fatalf("confirm in eu-west-1: %v", err)
	}
	var lve *ciptypes.UserLambdaValidationException
	if err := signUp(us, "US"); !errors.As(err, &lve) || !strings.HasPrefix(lve.ErrorMessage(), "PreSignUp failed with error ") || !strings.Contains(lve.ErrorMessage(), "eu-west-1") {
		t.Fatalf("sign-up in us-east-1: %v, want UserLambdaValidationException naming eu-west-1", err)
	}
	auth, err := idp(eu).InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &eu.ClientID, AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password}})
	if err != nil {
		t.Fatal(err)
	}
	token := aws.ToString(auth.AuthenticationResult.IdToken)

	callAs := func(contentType, method, url, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Idempotency-Key", "e2e-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	call := func(method, url, body string) (int, map[string]any) {
		return callAs("application/json", method, url, body)
	}
	order := `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"E2E","line1":"Hauptstr. 1","city":"Berlin","postalCode":"10115","country":"DE"}}`
	// The local HTTP API hands Content-Type to the handler, which requires JSON.
	for _, ct := range []string{"text/plain", ""} {
		status, got := callAs(ct, http.MethodPost, eu.OrdersAPIURL+"/orders", order)
		e, _ := got["error"].(map[string]any)
		if status != http.StatusUnsupportedMediaType || e["code"] != "UNSUPPORTED_MEDIA_TYPE" {
			t.Fatalf("POST /orders with Content-Type %q = %d %v, want 415 UNSUPPORTED_MEDIA_TYPE", ct, status, got)
		}
	}
	status, created := call(http.MethodPost, eu.OrdersAPIURL+"/orders", order)
	if status != http.StatusAccepted || created["orderId"] == nil {
		t.Fatalf("POST /orders = %d %v", status, created)
	}
	if status, _ := call(http.MethodPost, us.OrdersAPIURL+"/orders", order); status != http.StatusUnauthorized {
		t.Errorf("EU token at the US API = %d, want 401 (other pool)", status)
	}
	// The template's $default route: unknown routes and methods reach the
	// function behind the authorizer and get the contract's 404/405; without a
	// token (a preflight included: the template has no CorsConfiguration) the
	// authorizer answers 401.
	errCode := func(m map[string]any) any {
		e, _ := m["error"].(map[string]any)
		return e["code"]
	}
	if status, got := call(http.MethodGet, eu.OrdersAPIURL+"/nope", ""); status != http.StatusNotFound || errCode(got) != "NOT_FOUND" {
		t.Errorf("GET /nope = %d %v, want 404 NOT_FOUND from the function", status, got)
	}
	if status, got := call(http.MethodDelete, eu.OrdersAPIURL+"/orders", ""); status != http.StatusMethodNotAllowed || errCode(got) != "METHOD_NOT_ALLOWED" {
		t.Errorf("DELETE /orders = %d %v, want 405 METHOD_NOT_ALLOWED", status, got)
	}
	for _, m := range []string{http.MethodGet, http.MethodOptions} {
		req, _ := http.NewRequest(m, eu.OrdersAPIURL+"/nope", nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s /nope without a token = %d, want 401 from the authorizer", m, resp.StatusCode)
		}
	}
	// An access token passes the authorizer (client_id is the audience) but
	// carries no custom:region: the function refuses it with 403, naming the ID token.
	access := aws.ToString(auth.AuthenticationResult.AccessToken)
	{
		req, _ := http.NewRequest(http.MethodGet, eu.OrdersAPIURL+"/orders/o-1", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || errCode(m) != "ID_TOKEN_REQUIRED" {
			t.Errorf("access token = %d %v, want 403 ID_TOKEN_REQUIRED", resp.StatusCode, m)
		}
	}
	id := created["orderId"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, got := call(http.MethodGet, eu.OrdersAPIURL+"/orders/"+id, "")
		if status == http.StatusOK && got["status"] == "COMPLETED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order not COMPLETED by the processor within 30 s: %d %v", status, got)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A stalled-site alarm set by hand promotes the standby site: the
	// template's alarm-to-function wiring, end to end.
	if a := eu.AlarmFor("promote", ""); a == "" || eu.StandbyService == "" {
		t.Fatalf("template.yaml's promote alarm or standby service was not provisioned (alarms %+v, standby %q)", eu.Alarms, eu.StandbyService)
	} else {
		cfg := motoserver.Config(st.MotoURL, eu.Region)
		if _, err := cloudwatch.NewFromConfig(cfg, provision.CloudWatchQueryProtocol).SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{
			AlarmName: aws.String(a), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("by hand (test)")}); err != nil {
			t.Fatal(err)
		}
		ecsc := ecs.NewFromConfig(cfg)
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(eu.StandbyCluster), Services: []string{eu.StandbyService}})
			if err == nil && len(out.Services) == 1 && out.Services[0].DesiredCount > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("standby %s not promoted within 20 s of ALARM (%v)", eu.StandbyService, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Ctrl-C.
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30 s")
	}
	if _, err := os.Stat(o.stateFile); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
	if _, err := motoserver.Adopt(context.Background(), st.MotoURL, 300*time.Millisecond); err == nil {
		t.Errorf("moto_server at %s still answers after stop", st.MotoURL)
	}
	if _, err := http.Get(eu.CognitoURL); err == nil {
		t.Errorf("cognito endpoint still answers after stop")
	}
	<-scanned
	if !strings.Contains(out.String(), "stopping") {
		t.Errorf("output lacks the stopping line:\n%s", out.String())
	}
}
