package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
	"github.com/homeregion/homeregion/shared/residency"
	"github.com/homeregion/homeregion/shared/sealed"
)

// walk is the scripted story against one stack.
type walk struct {
	st         *localstate.State
	home, away *localstate.Region
	peer       *localstate.Region // another region of home's residency zone
	o          options
	http       *http.Client
	email, pwd string
	sub        string // the user's Cognito sub (from the sign-up)
	idToken    string
	// outsiderEmail, outsiderPwd: a user of the away region (the failover walk).
	outsiderEmail, outsiderPwd string
	// fnEnv is the home region's alarm functions' settings from the template.
	fnEnv map[string]provision.Function
}

func newWalk(ctx context.Context, st *localstate.State, o options) (*walk, error) {
	w := &walk{st: st, o: o, http: &http.Client{Timeout: 15 * time.Second}}
	home := o.home
	if home == "" {
		home = st.RegistryRegion
	}
	if w.home = st.Region(home); w.home == nil {
		return nil, fmt.Errorf("the stack has no region %s", home)
	}
	for i := range st.Regions {
		r := &st.Regions[i]
		if (o.away == "" && r.Region != home) || r.Region == o.away {
			w.away = r
			break
		}
	}
	if w.away == nil || w.away.Region == home {
		return nil, fmt.Errorf("need a second region besides %s (stack regions: %v)", home, regionNames(st))
	}
	// The peer: another region of the home region's residency zone, where
	// an erased user's address may sign up again.
	policy, err := residency.Default()
	if err != nil {
		return nil, err
	}
	for i := range st.Regions {
		r := &st.Regions[i]
		if r.Region != home && policy.SameZone(r.Region, home) && (o.peer == "" || r.Region == o.peer) {
			w.peer = r
			break
		}
	}
	if w.peer == nil {
		return nil, fmt.Errorf("need another region of %s's residency zone (stack regions: %v)", home, regionNames(st))
	}
	w.email = "demo-" + randHex(6) + "@example.com"
	w.pwd = "Demo-Passw0rd-" + randHex(4) + "!"
	if defs, err := provision.Load(o.template); err == nil {
		opts := provision.Options{RegistryRegion: st.RegistryRegion,
			RegionParameters: map[string]map[string]string{home: {provision.SitePublicKeyParameter: w.home.SitePublicKey}}}
		if fns, err := provision.FunctionEnv(defs, opts, home); err == nil {
			w.fnEnv = fns
		}
	}
	return w, nil
}

func regionNames(st *localstate.State) []string {
	var out []string
	for _, r := range st.Regions {
		out = append(out, r.Region)
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cfg is an aws.Config for region at endpoint with fake credentials.
func cfg(region, endpoint string) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
}

// cognito is the region's Cognito-compatible endpoint (triggers run there).
func (w *walk) cognito(r *localstate.Region) *cip.Client {
	return cip.NewFromConfig(cfg(r.Region, r.CognitoURL))
}

// moto clients talk to moto directly (admin calls, inspection).
func (w *walk) motoCfg(r *localstate.Region) aws.Config { return cfg(r.Region, w.st.MotoURL) }

// ordersDB reaches r's orders table in moto: a zone pair's table is one
// moto table in its table region.
func (w *walk) ordersDB(r *localstate.Region) *dynamodb.Client {
	region := r.Region
	if r.OrdersTableRegion != "" {
		region = r.OrdersTableRegion
	}
	return dynamodb.NewFromConfig(cfg(region, w.st.MotoURL))
}

func (w *walk) run(ctx context.Context, rep *reporter) {
	h, a := w.home.Region, w.away.Region
	attrs := func(region, country string) []ciptypes.AttributeType {
		return []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(w.email)},
			{Name: aws.String("custom:region"), Value: aws.String(region)},
			{Name: aws.String("custom:country"), Value: aws.String(country)},
		}
	}

	claimsBefore, claimsErr := w.claims(ctx)

	// 1. Sign up at home.
	out, err := w.cognito(w.home).SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(w.home.ClientID),
		Username: aws.String(w.email), Password: aws.String(w.pwd), UserAttributes: attrs(h, "DE")})
	if err == nil && aws.ToString(out.UserSub) == "" {
		err = errors.New("no UserSub in the answer")
	}
	if !rep.checkLine("sign-up "+h, fmt.Sprintf("%s (custom:country DE, custom:region %s) signed up: sub %s", w.email, h, subOf(out)), err) {
		return
	}
	w.sub = subOf(out)

	// 2. A squatter, who knows the address but cannot read its mail, signs
	// it up in the other region first... and can never confirm it. Nobody
	// has proved they own the address yet, so this is allowed and claims
	// nothing.
	squatterPwd := "Squat-Passw0rd-" + randHex(4) + "!"
	_, err = w.cognito(w.away).SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(w.away.ClientID),
		Username: aws.String(w.email), Password: aws.String(squatterPwd), UserAttributes: attrs(a, "US")})
	if err == nil {
		err = w.sameClaims(ctx, claimsBefore, claimsErr, 0)
	}
	rep.checkLine("squatter sign-up "+a, "the owner's address signed up unconfirmed in "+a+": allowed, no claim written", err)

	// 3. The owner confirms with the code Cognito mailed (any code locally):
	// PostConfirmation claims the verified address for the home region.
	_, err = w.cognito(w.home).ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{ClientId: aws.String(w.home.ClientID),
		Username: aws.String(w.email), ConfirmationCode: aws.String("123456")})
	if err == nil {
		err = w.sameClaims(ctx, claimsBefore, claimsErr, 1)
	}
	rep.checkLine("confirm "+h, "ConfirmSignUp: e-mail verified, PostConfirmation claimed it for "+h+" (one new registry item)", err)

	// 4. The squatter's account: confirmed by an administrator, the address
	// still unverified. PostConfirmation claims nothing; the account stays
	// confirmed, as in Cognito, and cannot sign in.
	_, err = w.cognito(w.away).AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{
		UserPoolId: aws.String(w.away.UserPoolID), Username: aws.String(w.email)})
	detail, err := refusedNaming(err, "UserLambdaValidationException", "PostConfirmation failed with error", "not verified")
	if err == nil {
		var d2 string
		_, err = w.signIn(ctx, w.away, squatterPwd)
		d2, err = refusedNaming(err, "UserLambdaValidationException", "PreAuthentication failed with error", "not verified")
		detail += "; sign-in " + d2
	}
	if err == nil {
		err = w.sameClaims(ctx, claimsBefore, claimsErr, 1)
	}
	rep.checkLine("squatter refused "+a, detail, err)

	// 4b. Even marked verified behind the triggers' back (as an import of
	// the account would), its sign-in is refused naming the home region.
	detail = ""
	err = w.verifyAway(ctx)
	if err == nil {
		_, err = w.signIn(ctx, w.away, squatterPwd)
		detail, err = refusedNaming(err, "UserLambdaValidationException", "PreAuthentication failed with error", h)
	}
	if err == nil {
		err = w.sameClaims(ctx, claimsBefore, claimsErr, 1)
	}
	rep.checkLine("sign-in "+a+" refused", "(email_verified set in moto behind the triggers' back) "+detail, err)

	// 5. Sign-in at home.
	auth, err := w.signIn(ctx, w.home, w.pwd)
	if err == nil && (auth.AuthenticationResult == nil || aws.ToString(auth.AuthenticationResult.IdToken) == "") {
		err = errors.New("no ID token in the answer")
	}
	if !rep.checkLine("sign-in "+h, "ID token issued", err) {
		return
	}
	w.idToken = aws.ToString(auth.AuthenticationResult.IdToken)

	// 6. Order at home: 202; the other region's API refuses the token.
	key := "demo-" + randHex(8)
	body := demoOrder
	first, err := w.postOrder(ctx, w.home, key, body)
	if err == nil && (first.OrderID == "" || first.Status != string(orders.StatusAccepted) || first.Region != h) {
		err = fmt.Errorf("unexpected answer %+v", first)
	}
	if !rep.checkLine("order "+h, fmt.Sprintf("202 order %s ACCEPTED in %s", first.OrderID, first.Region), err) {
		return
	}
	// 6b. What the cloud holds: the queued message carries the order sealed
	// to the site's public key, none of its values readable.
	qbody, err := w.queuedBody(ctx, first.OrderID)
	if err == nil {
		detail, err = checkSealed(qbody, first.OrderID, w.home.SitePublicKey, body)
	}
	rep.checkLine("order sealed in queue", detail, err)
	// The other region's authorizer only accepts its own pool's tokens.
	_, err = w.postOrder(ctx, w.away, "demo-"+randHex(8), body)
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusUnauthorized {
		rep.pass("order "+a+" refused", fmt.Sprintf("401 from %s's JWT authorizer: the %s token's issuer and audience are not its pool's", a, h))
	} else {
		rep.fail("order "+a+" refused", fmt.Sprintf("want 401 from the JWT authorizer, got %v", err))
	}

	// 7. Completed by the on-prem processor.
	t0 := time.Now()
	status, err := w.waitStatus(ctx, first.OrderID, orders.StatusCompleted, 60*time.Second)
	if rep.checkLine("order completed", fmt.Sprintf("GET /orders/%s -> %s after %.1fs (on-prem processor)", first.OrderID, status, time.Since(t0).Seconds()), err) {
		// 7b. Only the site opened it: the same order, stored in its database.
		// In a zone pair, a site of either region may have taken it.
		siteDB, version, stored, err := w.storedAtOneSite(ctx, first.OrderID)
		if err == nil {
			err = checkStored(stored, body)
		}
		rep.checkLine("order stored at site", fmt.Sprintf("%s: order %s opened and stored (message version %d), items, address and note as posted", siteDB, first.OrderID, version), err)
	}

	// 8. Replay with the same Idempotency-Key: the same order.
	again, err := w.postOrder(ctx, w.home, key, body)
	if err == nil && again.OrderID != first.OrderID {
		err = fmt.Errorf("replay gave order %s, first was %s", again.OrderID, first.OrderID)
	}
	rep.checkLine("order replayed", fmt.Sprintf("same Idempotency-Key -> same order %s, no second order", again.OrderID), err)

	// 9. A failover inside the zone pair: the home region's users are
	// served by its partner, and traffic returns when it recovers.
	// (Its user of another zone claims one address of its own.)
	claimsBefore += w.failover(ctx, rep, first.OrderID)

	// 10-15. The user asks for erasure: every place their data lived is
	// cleaned, and the address signs up again in the zone's other region.
	w.erasure(ctx, rep, first.OrderID, claimsBefore, claimsErr)

	// 15. A backlog scales the primary site out; 16. it drains.
	w.backlog(ctx, rep)

	// 17. A stalled primary site promotes the standby.
	w.stalled(ctx, rep)
}

// demoOrder is the order the demo posts.
const demoOrder = `{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Demo Customer","line1":"Hauptstr. 1","city":"Berlin","postalCode":"10115","country":"DE"},"note":"Leave at the door"}`

// checkLine is check with a detail that may be empty on success.
func (r *reporter) checkLine(step, detail string, err error) bool {
	if detail == "" && err == nil {
		detail = "ok"
	}
	return r.check(step, detail, err)
}

func subOf(o *cip.SignUpOutput) string {
	if o == nil {
		return ""
	}
	return aws.ToString(o.UserSub)
}

// refusedNaming checks the answer to a call that must be refused: code, the
// message prefix and naming region. It returns the refusal as the detail.
func refusedNaming(err error, code, prefix, region string) (string, error) {
	if err == nil {
		return "", errors.New("accepted; want it refused")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", fmt.Errorf("want %s, got %v", code, err)
	}
	msg := ae.ErrorMessage()
	if ae.ErrorCode() != code || !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, region) {
		return "", fmt.Errorf("want %s %q naming %s, got %s: %s", code, prefix, region, ae.ErrorCode(), msg)
	}
	return fmt.Sprintf("%s: %s", code, msg), nil
}

// importAway creates the user in the other region's pool directly in moto
// (no triggers run), confirmed with the same password.
// signIn signs the demo's address in at r's Cognito endpoint with password.
func (w *walk) signIn(ctx context.Context, r *localstate.Region, password string) (*cip.InitiateAuthOutput, error) {
	return w.cognito(r).InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(r.ClientID),
		AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": w.email, "PASSWORD": password}})
}

func (w *walk) verifyAway(ctx context.Context) error {
	_, err := cip.NewFromConfig(w.motoCfg(w.away)).AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
		UserPoolId: aws.String(w.away.UserPoolID), Username: aws.String(w.email),
		UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email_verified"), Value: aws.String("true")}},
	})
	if err != nil {
		return fmt.Errorf("mark the squatter's address verified in %s's pool in moto: %w", w.away.Region, err)
	}
	return nil
}

// claims counts the residency claims in the registry region's table, named
// by the template's trigger configuration.
func (w *walk) claims(ctx context.Context) (int, error) {
	table := w.fnEnv["PostConfirmationFunction"].Env["RESIDENCY_TABLE"]
	if table == "" {
		return 0, errors.New("the template gives PostConfirmationFunction no RESIDENCY_TABLE")
	}
	out, err := dynamodb.NewFromConfig(cfg(w.st.RegistryRegion, w.st.MotoURL)).Scan(ctx, &dynamodb.ScanInput{
		TableName: aws.String(table), Select: ddbtypes.SelectCount, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, fmt.Errorf("count the registry's claims: %w", err)
	}
	return int(out.Count), nil
}

// sameClaims checks that the registry holds exactly added claims more than
// before (other users of the running stack aside, the demo is alone).
func (w *walk) sameClaims(ctx context.Context, before int, beforeErr error, added int) error {
	if beforeErr != nil {
		return beforeErr
	}
	n, err := w.claims(ctx)
	if err != nil {
		return err
	}
	if n != before+added {
		return fmt.Errorf("the registry holds %d claims, want %d (%d before the demo, %d added)", n, before+added, before, added)
	}
	return nil
}

// orderAnswer is the orders API's 202 body.
type orderAnswer struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	Region  string `json:"region"`
}

type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func (w *walk) do(ctx context.Context, method, url string, hdr map[string]string, body string) (int, []byte, error) {
	a, err := w.call(ctx, method, url, w.idToken, hdr, body)
	return a.status, a.body, err
}

func (w *walk) postOrder(ctx context.Context, r *localstate.Region, key, body string) (orderAnswer, error) {
	code, b, err := w.do(ctx, http.MethodPost, r.OrdersAPIURL+"/orders",
		map[string]string{"Idempotency-Key": key, "Content-Type": "application/json"}, body)
	if err != nil {
		return orderAnswer{}, fmt.Errorf("POST %s/orders: %w", r.OrdersAPIURL, err)
	}
	if code != http.StatusAccepted {
		return orderAnswer{}, &httpError{status: code, body: string(bytes.TrimSpace(b))}
	}
	var a orderAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return orderAnswer{}, fmt.Errorf("202 body %q: %w", b, err)
	}
	return a, nil
}

// waitStatus polls GET /orders/{id} until the status is want.
func (w *walk) waitStatus(ctx context.Context, id string, want orders.Status, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	last := ""
	for {
		code, b, err := w.do(ctx, http.MethodGet, w.home.OrdersAPIURL+"/orders/"+id, nil, "")
		if err != nil {
			return last, err
		}
		if code != http.StatusOK {
			return last, &httpError{status: code, body: string(b)}
		}
		var g struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			return last, fmt.Errorf("GET body %q: %w", b, err)
		}
		last = g.Status
		if last == string(want) {
			return last, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("status still %s after %s (is the processor running?)", last, limit)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return last, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// desired returns an ECS service's desired count in moto.
func (w *walk) desired(ctx context.Context, r *localstate.Region, cluster, service string) (int, error) {
	out, err := ecs.NewFromConfig(w.motoCfg(r)).DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{service}})
	if err != nil {
		return 0, fmt.Errorf("describe service %s/%s: %w", cluster, service, err)
	}
	if len(out.Services) != 1 {
		return 0, fmt.Errorf("service %s/%s not found", cluster, service)
	}
	return int(out.Services[0].DesiredCount), nil
}

// setDesired sets an ECS service's desired count in moto (an operator's reset).
func (w *walk) setDesired(ctx context.Context, r *localstate.Region, cluster, service string, n int) error {
	_, err := ecs.NewFromConfig(w.motoCfg(r)).UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster),
		Service: aws.String(service), DesiredCount: aws.Int32(int32(n))})
	if err != nil {
		return fmt.Errorf("reset %s/%s to %d: %w", cluster, service, n, err)
	}
	return nil
}

func (w *walk) env(action, key string) (int, bool) {
	for _, f := range w.fnEnv {
		if f.Action == action {
			n, err := strconv.Atoi(f.Env[key])
			return n, err == nil
		}
	}
	return 0, false
}

func (w *walk) cloudwatch() *cloudwatch.Client {
	return cloudwatch.NewFromConfig(w.motoCfg(w.home), provision.CloudWatchQueryProtocol)
}

// backlog sends orders faster than the primary site processes them (status
// records written as the orders API would, envelopes sent to the queue) until
// the queue-depth alarm's scale action raises the primary service's desired
// count, then checks every one of them is completed.
func (w *walk) backlog(ctx context.Context, rep *reporter) {
	const step = "backlog scales out"
	r := w.home
	alarmName := r.AlarmFor("scale", "backlog")
	switch {
	case alarmName == "":
		rep.fail(step, "no alarm with a scale action in "+r.Region+" (template.yaml's alarms section: queue-depth alarm -> ScaleFunction)")
		return
	case r.EcsCluster == "" || r.PrimaryService == "":
		rep.fail(step, "no primary site ECS service in the stack (ScaleFunction's ECS_CLUSTER/ECS_SERVICE)")
		return
	}
	da, err := w.cloudwatch().DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarmName}})
	if err != nil || len(da.MetricAlarms) != 1 {
		rep.fail(step, fmt.Sprintf("describe alarm %s: %v", alarmName, err))
		return
	}
	threshold := aws.ToFloat64(da.MetricAlarms[0].Threshold)
	// Actions fire on transitions: an alarm still in ALARM (a backlog left by
	// an earlier run) must first return to OK.
	for t0 := time.Now(); da.MetricAlarms[0].StateValue == cwtypes.StateValueAlarm; {
		if time.Since(t0) > 60*time.Second {
			rep.fail(step, fmt.Sprintf("alarm %s still in ALARM before the backlog: %s", alarmName, aws.ToString(da.MetricAlarms[0].StateReason)))
			return
		}
		if err := sleep(ctx, time.Second); err != nil {
			rep.fail(step, err.Error())
			return
		}
		if da, err = w.cloudwatch().DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarmName}}); err != nil || len(da.MetricAlarms) != 1 {
			rep.fail(step, fmt.Sprintf("describe alarm %s: %v", alarmName, err))
			return
		}
	}
	before, err := w.desired(ctx, r, r.EcsCluster, r.PrimaryService)
	if err != nil {
		rep.fail(step, err.Error())
		return
	}
	perTask, ok := w.env("scale", "BACKLOG_PER_TASK")
	if !ok || perTask <= 0 {
		perTask = 10
	}
	note := ""
	minTasks, ok := w.env("scale", "MIN_TASKS")
	floor, why := minTasks, "MIN_TASKS, left by an earlier run"
	if maxTasks, okMax := w.env("scale", "MAX_TASKS"); ok && okMax && minTasks >= maxTasks {
		// A SQLite site (SiteDatabase=sqlite, the default) runs at most one
		// task: it scales out from idle.
		floor, why = maxTasks-1, "MAX_TASKS-1: a SQLite site scales out from idle"
	}
	if ok && before > floor {
		// Left scaled out by an earlier run (scale-in waits for its cooldown):
		// back to the floor, as an operator would.
		if err := w.setDesired(ctx, r, r.EcsCluster, r.PrimaryService, floor); err != nil {
			rep.fail(step, err.Error())
			return
		}
		note = fmt.Sprintf(" (primary reset from %d to %s)", before, why)
		before = floor
	}
	// Keep the visible backlog at least this high until the site scales out.
	target := max(int(threshold)*2, perTask*(before+1)*2, 50)
	if target > 5000 {
		target = 5000
	}
	q := sqs.NewFromConfig(w.motoCfg(r))
	ddb := w.ordersDB(r)
	var ids []string
	t0 := time.Now()
	deadline := t0.Add(90 * time.Second)
	after := before
	for after <= before {
		if time.Now().After(deadline) {
			rep.fail(step, fmt.Sprintf("desired count of %s still %d after %s with a backlog of >= %d (alarm %s, threshold %v)",
				r.PrimaryService, after, time.Since(t0).Round(time.Second), target, alarmName, threshold))
			w.drain(ctx, rep, ids)
			return
		}
		vis, err := visible(ctx, q, r.OrdersQueueURL)
		if err != nil {
			rep.fail(step, err.Error())
			return
		}
		if n := target - vis; n > 0 {
			more, err := w.enqueue(ctx, q, ddb, r, (n+9)/10*10)
			ids = append(ids, more...)
			if err != nil {
				rep.fail(step, err.Error())
				w.drain(ctx, rep, ids)
				return
			}
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			rep.fail(step, err.Error())
			return
		}
		if after, err = w.desired(ctx, r, r.EcsCluster, r.PrimaryService); err != nil {
			rep.fail(step, err.Error())
			return
		}
	}
	rep.pass(step, fmt.Sprintf("%d orders queued faster than processed; alarm %s -> scale: %s desired %d -> %d in %.1fs%s",
		len(ids), alarmName, r.PrimaryService, before, after, time.Since(t0).Seconds(), note))
	w.drain(ctx, rep, ids)
}

// enqueue writes n orders' status records and messages, as the orders API
// does: sealed to the region's site public key (version 2), or version 1
// when the stack names none.
func (w *walk) enqueue(ctx context.Context, q *sqs.Client, ddb *dynamodb.Client, r *localstate.Region, n int) ([]string, error) {
	message := func(env orders.Envelope) ([]byte, error) { return json.Marshal(env) }
	if r.SitePublicKey != "" {
		pub, err := sealed.ParsePublicKey(r.SitePublicKey)
		if err != nil {
			return nil, fmt.Errorf("the stack's site public key of %s: %w", r.Region, err)
		}
		message = func(env orders.Envelope) ([]byte, error) {
			m, err := sealed.SealEnvelope(pub, env)
			if err != nil {
				return nil, err
			}
			return json.Marshal(m)
		}
	}
	now := time.Now().UTC()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "demo-backlog-" + randHex(8)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*(n/10+1))
	sem := make(chan struct{}, 4)
	for i := 0; i < n; i += 25 {
		batch := ids[i:min(i+25, n)]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var reqs []ddbtypes.WriteRequest
			for _, id := range batch {
				reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{
					ordertable.AttrPK:        &ddbtypes.AttributeValueMemberS{Value: ordertable.OrderKey(id)},
					ordertable.AttrOwner:     &ddbtypes.AttributeValueMemberS{Value: "demo-backlog"},
					ordertable.AttrStatus:    &ddbtypes.AttributeValueMemberS{Value: string(orders.StatusAccepted)},
					ordertable.AttrCreatedAt: &ddbtypes.AttributeValueMemberS{Value: now.Format(orders.TimeFormat)},
					ordertable.AttrUpdatedAt: &ddbtypes.AttributeValueMemberS{Value: now.Format(orders.TimeFormat)},
					ordertable.AttrExpiresAt: &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10)},
				}}})
			}
			if _, err := ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{r.OrdersTable: reqs}}); err != nil {
				errs <- fmt.Errorf("write status records: %w", err)
				return
			}
			for j := 0; j < len(batch); j += 10 {
				var entries []sqstypes.SendMessageBatchRequestEntry
				for k, id := range batch[j:min(j+10, len(batch))] {
					env, err := message(orders.Envelope{Version: orders.EnvelopeVersion, OrderID: id, Region: r.Region, Owner: "demo-backlog", CreatedAt: now,
						Order: orders.Order{Items: []orders.Item{{SKU: "LOAD-1", Quantity: 1}},
							DeliveryAddress: orders.Address{Name: "Load Test", Line1: "1 Test St", City: "Berlin", PostalCode: "10115", Country: "DE"}}})
					if err != nil {
						errs <- fmt.Errorf("seal envelope: %w", err)
						return
					}
					entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(k)), MessageBody: aws.String(string(env)),
						MessageGroupId: aws.String(id), MessageDeduplicationId: aws.String(id), // as the orders API sends (FIFO)
						MessageAttributes: map[string]sqstypes.MessageAttributeValue{orders.MessageAttrOrderID: {DataType: aws.String("String"), StringValue: aws.String(id)}}})
				}
				out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(r.OrdersQueueURL), Entries: entries})
				if err == nil && len(out.Failed) > 0 {
					err = fmt.Errorf("%d messages refused", len(out.Failed))
				}
				if err != nil {
					errs <- fmt.Errorf("send envelopes: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

func visible(ctx context.Context, q *sqs.Client, url string) (int, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, fmt.Errorf("queue attributes: %w", err)
	}
	return strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
}

// drain waits until every backlog order is COMPLETED (nothing lost).
func (w *walk) drain(ctx context.Context, rep *reporter, ids []string) {
	const step = "backlog drained"
	if len(ids) == 0 {
		return
	}
	ddb := w.ordersDB(w.home)
	t0 := time.Now()
	pending := ids
	for {
		var still []string
		for i := 0; i < len(pending); i += 100 {
			chunk := pending[i:min(i+100, len(pending))]
			keys := make([]map[string]ddbtypes.AttributeValue, len(chunk))
			for j, id := range chunk {
				keys[j] = map[string]ddbtypes.AttributeValue{ordertable.AttrPK: &ddbtypes.AttributeValueMemberS{Value: ordertable.OrderKey(id)}}
			}
			done := map[string]bool{}
			req := map[string]ddbtypes.KeysAndAttributes{w.home.OrdersTable: {Keys: keys}}
			for len(req) > 0 {
				out, err := ddb.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
				if err != nil {
					rep.fail(step, fmt.Sprintf("read status records: %v", err))
					return
				}
				for _, it := range out.Responses[w.home.OrdersTable] {
					pk, _ := it[ordertable.AttrPK].(*ddbtypes.AttributeValueMemberS)
					st, _ := it[ordertable.AttrStatus].(*ddbtypes.AttributeValueMemberS)
					if pk != nil && st != nil && st.Value == string(orders.StatusCompleted) {
						done[strings.TrimPrefix(pk.Value, ordertable.OrderKey(""))] = true
					}
				}
				req = out.UnprocessedKeys
			}
			for _, id := range chunk {
				if !done[id] {
					still = append(still, id)
				}
			}
		}
		pending = still
		if len(pending) == 0 {
			rep.pass(step, fmt.Sprintf("all %d backlog orders COMPLETED by the processor %.1fs later", len(ids), time.Since(t0).Seconds()))
			return
		}
		if time.Since(t0) > 120*time.Second {
			rep.fail(step, fmt.Sprintf("%d of %d backlog orders not COMPLETED after %s", len(pending), len(ids), time.Since(t0).Round(time.Second)))
			return
		}
		if err := sleep(ctx, time.Second); err != nil {
			rep.fail(step, err.Error())
			return
		}
	}
}

// stalled sets the primary site's stalled-site alarm to ALARM by hand, as an
// operator would with `aws cloudwatch set-alarm-state`, and checks the promote
// action raised the standby service to STANDBY_TASKS.
func (w *walk) stalled(ctx context.Context, rep *reporter) {
	const step = "stalled site -> standby"
	r := w.home
	alarmName := r.AlarmFor("promote", "stalled")
	cluster := r.StandbyCluster
	if cluster == "" {
		cluster = r.EcsCluster
	}
	switch {
	case alarmName == "":
		rep.fail(step, "no alarm with a promote action in "+r.Region+" (template.yaml's alarms section: stalled-site alarm -> PromoteFunction)")
		return
	case cluster == "" || r.StandbyService == "":
		rep.fail(step, "no standby site ECS service in the stack (PromoteFunction's STANDBY_ECS_CLUSTER/STANDBY_ECS_SERVICE)")
		return
	}
	before, err := w.desired(ctx, r, cluster, r.StandbyService)
	if err != nil {
		rep.fail(step, err.Error())
		return
	}
	want, known := w.env("promote", "STANDBY_TASKS")
	note := ""
	if known && before >= want {
		// Left promoted by an earlier run against this stack: back to pilot
		// light, as an operator would once the primary site recovered.
		if err := w.setDesired(ctx, r, cluster, r.StandbyService, 0); err != nil {
			rep.fail(step, err.Error())
			return
		}
		note = fmt.Sprintf(" (standby reset from %d left by an earlier run)", before)
		before = 0
	}
	da, err := w.cloudwatch().DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarmName}})
	if err != nil || len(da.MetricAlarms) != 1 {
		rep.fail(step, fmt.Sprintf("describe alarm %s: %v", alarmName, err))
		return
	}
	if m := da.MetricAlarms[0]; m.StateValue == cwtypes.StateValueAlarm {
		rep.fail(step, fmt.Sprintf("alarm %s is already in ALARM before the demo stalls the site: %s", alarmName, aws.ToString(m.StateReason)))
		return
	}
	if _, err := w.cloudwatch().SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(alarmName),
		StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("demo: primary site stalled (set by hand)")}); err != nil {
		rep.fail(step, fmt.Sprintf("set-alarm-state %s ALARM: %v", alarmName, err))
		return
	}
	t0 := time.Now()
	for {
		n, err := w.desired(ctx, r, cluster, r.StandbyService)
		if err != nil {
			rep.fail(step, err.Error())
			return
		}
		if (known && n == want) || (!known && n > before) {
			rep.pass(step, fmt.Sprintf("set-alarm-state %s ALARM -> promote: %s desired %d -> %d (STANDBY_TASKS) in %.1fs%s",
				alarmName, r.StandbyService, before, n, time.Since(t0).Seconds(), note))
			return
		}
		if time.Since(t0) > 30*time.Second {
			exp := "more than " + strconv.Itoa(before)
			if known {
				exp = strconv.Itoa(want) + " (STANDBY_TASKS)"
			}
			rep.fail(step, fmt.Sprintf("%s desired count %d after %s, want %s", r.StandbyService, n, time.Since(t0).Round(time.Second), exp))
			return
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			rep.fail(step, err.Error())
			return
		}
	}
}
