package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/trafficlocal"
	"github.com/homeregion/homeregion/shared/orders"
)

// answer is one HTTP answer and the region that served it.
type answer struct {
	status   int
	servedBy string
	body     []byte
}

// call sends a request with token to url and returns the answer.
func (w *walk) call(ctx context.Context, method, url, token string, hdr map[string]string, body string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, servedBy: resp.Header.Get(trafficlocal.ServedByHeader), body: b}, err
}

// controlPost calls the local stack's control endpoint.
func (w *walk) controlPost(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.st.ControlURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return nil
}

// switchState reads the routing controls' states from the control endpoint.
func (w *walk) switchState(ctx context.Context, region string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.st.ControlURL+"/switch", nil)
	if err != nil {
		return "", err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return "", err
	}
	return m[region], nil
}

// tokenIssuer is the iss claim of a JWT (not verified: the API's authorizer does that).
func tokenIssuer(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Iss
}

// failoverAlarm is the home region's alarm whose transitions invoke the
// failover action (the orders API's 5xx alarm).
func (w *walk) failoverAlarm() string {
	for _, a := range w.home.Alarms {
		if a.Action == "failover" {
			return a.Name
		}
	}
	return ""
}

// outsider signs up, confirms and signs in a user of the away region (a
// residency zone the pair is not in) and returns their ID token.
func (w *walk) outsider(ctx context.Context) (string, error) {
	email, pwd := "demo-us-"+randHex(6)+"@example.com", "Demo-Passw0rd-"+randHex(4)+"!"
	w.outsiderEmail, w.outsiderPwd = email, pwd
	c := w.cognito(w.away)
	if _, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(w.away.ClientID), Username: aws.String(email), Password: aws.String(pwd),
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(email)},
			{Name: aws.String("custom:region"), Value: aws.String(w.away.Region)},
			{Name: aws.String("custom:country"), Value: aws.String("US")},
		}}); err != nil {
		return "", fmt.Errorf("sign up in %s: %w", w.away.Region, err)
	}
	if _, err := c.ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{ClientId: aws.String(w.away.ClientID), Username: aws.String(email), ConfirmationCode: aws.String("123456")}); err != nil {
		return "", fmt.Errorf("confirm in %s: %w", w.away.Region, err)
	}
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(w.away.ClientID), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": pwd}})
	if err != nil {
		return "", fmt.Errorf("sign in at %s: %w", w.away.Region, err)
	}
	return aws.ToString(out.AuthenticationResult.IdToken), nil
}

// outsiderRefused checks that token (of the away region's pool) is refused
// with 401 by every API of the pair: home's API name (whichever region
// answers it), both orders APIs and both PairHttpApis.
func (w *walk) outsiderRefused(ctx context.Context, token string, partner *localstate.Region) (string, error) {
	urls := []string{w.home.TrafficURL, w.home.OrdersAPIURL, w.home.PairAPIURL, partner.OrdersAPIURL, partner.PairAPIURL}
	for _, u := range urls {
		a, err := w.call(ctx, http.MethodGet, u+"/orders/x", token, nil, "")
		if err != nil {
			return "", err
		}
		if a.status != http.StatusUnauthorized {
			return "", fmt.Errorf("%s answered %d %s, want 401", u, a.status, a.body)
		}
	}
	// Nor can they sign in at either EU pool, its replica included: the
	// user exists only in their own pool.
	for _, r := range []*localstate.Region{w.home, partner} {
		if _, err := w.cognito(r).InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(r.ClientID),
			AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": w.outsiderEmail, "PASSWORD": w.outsiderPwd}}); err == nil {
			return "", fmt.Errorf("the %s user signed in at %s's pool", w.away.Region, r.Region)
		}
	}
	return fmt.Sprintf("401 from all %d EU API endpoints (both API names' answer, both orders APIs, both PairHttpApis); sign-in refused at both EU pools", len(urls)), nil
}

// failover walks a real failover of the home region inside its zone pair:
// the home region's orders API starts failing, its 5xx alarm fires, the
// failover function turns the home API name's routing control Off, and the
// name is answered by the partner's PairHttpApi; a home user signs in at
// the partner (the pool's replica) and orders there, the order reaches the
// zone's site; the home region recovers and, after the hold-down, the name
// returns home, where the order's status is read. A user of another zone is
// refused throughout. It returns the registry claims it added (that user's).
func (w *walk) failover(ctx context.Context, rep *reporter, firstOrder string) (claims int) {
	partner := w.st.Region(w.home.Partner)
	step := "failover " + w.home.Region
	switch {
	case w.home.Partner == "" || partner == nil || w.st.ControlURL == "" || w.home.TrafficURL == "":
		rep.pass(step, "skipped: the stack runs no zone pair with "+w.home.Region+" (cmd/local -pair)")
		return
	case w.failoverAlarm() == "":
		rep.fail(step, "no alarm of "+w.home.Region+" invokes the failover action")
		return
	}
	h, p := w.home.Region, partner.Region
	if s, err := w.switchState(ctx, h); err != nil || s != "On" {
		rep.fail(step, fmt.Sprintf("%s's routing control is %q (%v), want On before the demo", h, s, err))
		return
	}

	// Before: a user of another zone is refused everywhere.
	outsider, err := w.outsider(ctx)
	if outsider != "" {
		claims = 1
	}
	if err == nil {
		var d string
		if d, err = w.outsiderRefused(ctx, outsider, partner); err == nil {
			rep.pass(w.away.Region+" user refused (before)", d)
		}
	}
	if err != nil {
		rep.fail(w.away.Region+" user refused (before)", err.Error())
	}

	// The replica: the home user signs in at the partner's endpoint with
	// the home pool's id and app client; the token has the home issuer.
	rout, err := w.cognito(partner).InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(w.home.ClientID),
		AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": w.email, "PASSWORD": w.pwd}})
	var replicaToken string
	if err == nil {
		replicaToken = aws.ToString(rout.AuthenticationResult.IdToken)
		if got, want := tokenIssuer(replicaToken), tokenIssuer(w.idToken); got == "" || got != want {
			err = fmt.Errorf("the replica's token has issuer %q, the home pool's %q", got, want)
		}
	}
	if !rep.checkLine("sign-in at "+p+" replica", fmt.Sprintf("%s's user signed in at %s's Cognito endpoint (pool %s, the replica): token issuer %s, as at home", h, p, w.home.UserPoolID, tokenIssuer(replicaToken)), err) {
		return
	}

	// eu-west-1's API starts failing; load on its API name (a client
	// retrying GETs) until the alarm fires and the name moves.
	if err := w.controlPost(ctx, "/regions/"+h+"/impair"); err != nil {
		rep.fail(step, err.Error())
		return
	}
	impairedAt := time.Now()
	restored := false
	defer func() {
		if !restored {
			_ = w.controlPost(context.WithoutCancel(ctx), "/regions/"+h+"/restore")
		}
	}()
	var sent, failed5xx atomic.Int64
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				a, err := w.call(lctx, http.MethodGet, w.home.TrafficURL+"/orders/"+firstOrder, w.idToken, nil, "")
				if err == nil {
					sent.Add(1)
					if a.status >= 500 {
						failed5xx.Add(1)
					}
				}
				_ = sleep(lctx, 150*time.Millisecond)
			}
		}()
	}
	alarmAt, err := w.waitAlarm(ctx, w.failoverAlarm(), cwtypes.StateValueAlarm, 60*time.Second)
	if !rep.checkLine("5xx alarm fires", fmt.Sprintf("%s impaired (orders API integration failing, Cognito 503); %d requests on its API name, %d answered 5xx; %s ALARM after %.1fs",
		h, sent.Load(), failed5xx.Load(), w.failoverAlarm(), alarmAt.Sub(impairedAt).Seconds()), err) {
		stopLoad()
		wg.Wait()
		return
	}

	// The failover function turns the routing control Off: the API name is
	// answered by the partner's PairHttpApi. The client retries its order
	// with the same Idempotency-Key until it is accepted.
	key := "failover-" + randHex(6)
	var first answer
	for {
		first, err = w.call(ctx, http.MethodPost, w.home.TrafficURL+"/orders", replicaToken,
			map[string]string{"Idempotency-Key": key, "Content-Type": "application/json"}, demoOrder)
		if err == nil && first.status == http.StatusAccepted {
			break
		}
		if time.Since(alarmAt) > 60*time.Second {
			if err == nil {
				err = fmt.Errorf("still %d from %s %.0fs after the alarm", first.status, first.servedBy, time.Since(alarmAt).Seconds())
			}
			break
		}
		_ = sleep(ctx, 100*time.Millisecond)
	}
	served := time.Now()
	stopLoad()
	wg.Wait()
	var acc orderAnswer
	if err == nil {
		if err = json.Unmarshal(first.body, &acc); err == nil && (first.servedBy != p || acc.Region != p) {
			err = fmt.Errorf("202 served by %q naming region %q, want %s", first.servedBy, acc.Region, p)
		}
	}
	state, _ := w.switchState(ctx, h)
	if !rep.checkLine("traffic switched to "+p, fmt.Sprintf("routing control of %s's API name %s; POST /orders (same Idempotency-Key, retried) -> 202 from %s's PairHttpApi, order %s, %.1fs after the alarm (%.1fs after the impairment)",
		h, state, p, acc.OrderID, served.Sub(alarmAt).Seconds(), served.Sub(impairedAt).Seconds()), err) {
		return
	}

	// The order reaches the zone's site, and its status is readable there.
	status, err := w.waitStatusAt(ctx, w.home.TrafficURL, replicaToken, acc.OrderID, orders.StatusCompleted, 30*time.Second)
	if err == nil {
		err = w.storedOnceInZone(ctx, acc.OrderID)
	}
	rep.checkLine("order at "+p+" completed", fmt.Sprintf("GET /orders/%s on %s's API name (served by %s) -> %s; stored at exactly one site database of the pair", acc.OrderID, h, p, status), err)

	// Sign-up during the failover: only the primary signs users up.
	_, err = w.cognito(partner).SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(w.home.ClientID), Username: aws.String("demo-new-" + randHex(4) + "@example.com"),
		Password: aws.String(w.pwd), UserAttributes: []ciptypes.AttributeType{{Name: aws.String("custom:region"), Value: aws.String(h)}}})
	var onf *ciptypes.OperationNotEnabledException
	detail := ""
	if errors.As(err, &onf) {
		detail = fmt.Sprintf("SignUp at %s's replica of %s's pool -> OperationNotEnabledException", p, h)
		_, err = w.cognito(w.home).SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(w.home.ClientID), Username: aws.String("demo-new-" + randHex(4) + "@example.com"), Password: aws.String(w.pwd)})
		if err != nil {
			detail += fmt.Sprintf("; at %s (impaired) -> %s", h, errCode(err))
			err = nil
		} else {
			err = fmt.Errorf("sign-up at the impaired %s succeeded", h)
		}
	} else if err == nil {
		err = errors.New("sign-up at the replica succeeded; want OperationNotEnabledException")
	}
	rep.checkLine("sign-up during failover", detail, err)

	if outsider != "" {
		d, err := w.outsiderRefused(ctx, outsider, partner)
		rep.checkLine(w.away.Region+" user refused (failed over)", d, err)
	}

	// eu-west-1 recovers: once the alarm is OK and the hold-down has
	// passed since the failover (FailbackMode auto), the name returns home.
	if s, _ := w.switchState(ctx, h); s != "Off" {
		rep.fail("fail-back "+h, fmt.Sprintf("the routing control was %s before %s recovered: the hold-down ran out during the demo", s, h))
		return
	}
	if err := w.controlPost(ctx, "/regions/"+h+"/restore"); err != nil {
		rep.fail("fail-back "+h, err.Error())
		return
	}
	restored = true
	restoredAt := time.Now()
	var back answer
	for {
		back, err = w.call(ctx, http.MethodGet, w.home.TrafficURL+"/orders/"+acc.OrderID, w.idToken, nil, "")
		if err == nil && back.servedBy == h && back.status == http.StatusOK {
			break
		}
		if time.Since(restoredAt) > 90*time.Second {
			if err == nil {
				err = fmt.Errorf("%s's API name still answered by %s (%d) %.0fs after it recovered", h, back.servedBy, back.status, time.Since(restoredAt).Seconds())
			}
			break
		}
		_ = sleep(ctx, 250*time.Millisecond)
	}
	if err == nil && !strings.Contains(string(back.body), `"status":"COMPLETED"`) {
		err = fmt.Errorf("GET at %s after fail-back: %s", h, back.body)
	}
	rep.checkLine("fail-back "+h, fmt.Sprintf("%s restored; its API name answered by %s again %.1fs later (FailbackMode auto: the alarm OK, the hold-down passed, the next reconcile): the order placed at %s reads COMPLETED at %s",
		h, h, time.Since(restoredAt).Seconds(), p, h), err)

	if outsider != "" {
		d, err := w.outsiderRefused(ctx, outsider, partner)
		rep.checkLine(w.away.Region+" user refused (after)", d, err)
	}
	return claims
}

// waitAlarm waits until alarm is in state and returns when it got there.
func (w *walk) waitAlarm(ctx context.Context, alarm string, state cwtypes.StateValue, limit time.Duration) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		out, err := w.cloudwatch().DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarm}})
		if err != nil {
			return time.Time{}, err
		}
		if len(out.MetricAlarms) == 1 && out.MetricAlarms[0].StateValue == state {
			if t := out.MetricAlarms[0].StateUpdatedTimestamp; t != nil {
				return *t, nil
			}
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("alarm %s not %s after %s", alarm, state, limit)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// waitStatusAt polls GET /orders/{id} at base with token until want.
func (w *walk) waitStatusAt(ctx context.Context, base, token, id string, want orders.Status, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	last := ""
	for {
		a, err := w.call(ctx, http.MethodGet, base+"/orders/"+id, token, nil, "")
		if err != nil {
			return last, err
		}
		if a.status == http.StatusOK {
			var g struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(a.body, &g); err != nil {
				return last, err
			}
			if last = g.Status; last == string(want) {
				return last, nil
			}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("status %q (HTTP %d) after %s", last, a.status, limit)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return last, err
		}
	}
}

// siteDBs are the site databases that drain the home region's queue: its
// own and, in a zone pair, its partner's.
func (w *walk) siteDBs() []string {
	dbs := []string{w.home.SiteDB}
	if p := w.st.Region(w.home.Partner); p != nil {
		dbs = append(dbs, p.SiteDB)
	}
	return dbs
}

// storedAtOneSite finds order id at exactly one of siteDBs and returns
// that database and the stored order.
func (w *walk) storedAtOneSite(ctx context.Context, id string) (string, int, orders.Order, error) {
	var at []string
	var version int
	var stored orders.Order
	for _, db := range w.siteDBs() {
		if v, o, err := storedOrder(ctx, db, id); err == nil {
			at, version, stored = append(at, db), v, o
		}
	}
	if len(at) != 1 {
		return strings.Join(at, ", "), 0, orders.Order{}, fmt.Errorf("order %s stored at %d of the site databases %v, want 1", id, len(at), w.siteDBs())
	}
	return at[0], version, stored, nil
}

// storedOnceInZone checks that order id is stored at exactly one site
// database of the pair.
func (w *walk) storedOnceInZone(ctx context.Context, id string) error {
	_, _, _, err := w.storedAtOneSite(ctx, id)
	return err
}

// errCode is an AWS error's code, or its text.
func errCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return err.Error()
}
