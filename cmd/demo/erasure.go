package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/shared/orders"
	"github.com/homeregion/homeregion/shared/ordertable"
)

// erasureAnswer is the body of DELETE /me and GET /me/erasure.
type erasureAnswer struct {
	ErasureID string `json:"erasureId"`
	Status    string `json:"status"`
	UpdatedAt string `json:"updatedAt"`
}

// me calls method on /me{path} with the user's token and decodes the answer.
func (w *walk) me(ctx context.Context, method, path string, want int) (erasureAnswer, error) {
	code, b, err := w.do(ctx, method, w.home.OrdersAPIURL+"/me"+path, nil, "")
	if err != nil {
		return erasureAnswer{}, fmt.Errorf("%s /me%s: %w", method, path, err)
	}
	if code != want {
		return erasureAnswer{}, &httpError{status: code, body: strings.TrimSpace(string(b))}
	}
	var a erasureAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return erasureAnswer{}, fmt.Errorf("%s /me%s: body %q: %w", method, path, b, err)
	}
	return a, nil
}

// erasure walks the user's erasure: DELETE /me, orders refused, COMPLETED,
// every place the user's data lived checked empty, the record that proves
// it, and the address signing up again in the home region's zone peer.
func (w *walk) erasure(ctx context.Context, rep *reporter, orderID string, claimsBefore int, claimsErr error) {
	// 9. The user asks for erasure; asking again returns the same one.
	start := time.Now()
	first, err := w.me(ctx, http.MethodDelete, "", http.StatusAccepted)
	var again erasureAnswer
	if err == nil {
		again, err = w.me(ctx, http.MethodDelete, "", http.StatusAccepted)
	}
	if err == nil && (first.ErasureID == "" || again.ErasureID != first.ErasureID) {
		err = fmt.Errorf("DELETE /me gave erasure %q, then %q", first.ErasureID, again.ErasureID)
	}
	if !rep.checkLine("erasure requested", fmt.Sprintf("DELETE /me -> 202 erasure %s %s; again -> the same erasure", first.ErasureID, first.Status), err) {
		return
	}

	// 10. No new order once the erasure is recorded.
	_, err = w.postOrder(ctx, w.home, "demo-"+randHex(8), demoOrder)
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusForbidden && strings.Contains(he.body, "ACCOUNT_ERASED") {
		rep.pass("order after erasure refused", "POST /orders -> 403 ACCOUNT_ERASED")
	} else {
		rep.fail("order after erasure refused", fmt.Sprintf("want 403 ACCOUNT_ERASED, got %v", err))
	}

	// 11. The erasure worker (every second locally) completes it; the
	// token stays valid until it expires, so the user can follow it.
	var last erasureAnswer
	for {
		last, err = w.me(ctx, http.MethodGet, "/erasure", http.StatusOK)
		if err != nil || last.Status == string(ordertable.ErasureCompleted) {
			break
		}
		if time.Since(start) > 90*time.Second {
			err = fmt.Errorf("still %s after 90 s (is the erasure worker running?)", last.Status)
			break
		}
		if err = sleep(ctx, 250*time.Millisecond); err != nil {
			break
		}
	}
	if !rep.checkLine("erasure completed", fmt.Sprintf("GET /me/erasure -> %s after %.1fs", last.Status, time.Since(start).Seconds()), err) {
		return
	}

	// 12. Every place the user's data lived is empty.
	var gone []string
	check := func(what string, err error) {
		if err == nil {
			gone = append(gone, what)
		} else {
			rep.fail("erased everywhere", what+": "+err.Error())
		}
	}
	check("pool user", w.noPoolUser(ctx))
	check("registry claim", w.sameClaims(ctx, claimsBefore, claimsErr, 0))
	check("orders table", w.noOwnerItems(ctx, orderID))
	check("site database", w.noSiteRows(ctx, first.ErasureID))
	check("queue and DLQ", w.noMessages(ctx))
	if len(gone) == 5 {
		rep.pass("erased everywhere", strings.Join(gone, ", ")+": nothing of the user left; GET /orders/"+orderID+" -> 404; the site keeps a tombstone (a hash, no id)")
	}

	// 13. What is kept: the proof, without personal data.
	detail, err := w.erasureRecord(ctx)
	rep.checkLine("erasure record", detail, err)

	// 14. The address is free: it signs up again in the zone's other region.
	detail, err = w.signUpAgain(ctx, claimsBefore, claimsErr)
	rep.checkLine("sign-up again "+w.peer.Region, detail, err)
}

// noPoolUser checks that the home pool has no user with the address.
func (w *walk) noPoolUser(ctx context.Context) error {
	out, err := cip.NewFromConfig(w.motoCfg(w.home)).ListUsers(ctx, &cip.ListUsersInput{
		UserPoolId: aws.String(w.home.UserPoolID), Filter: aws.String(`email = "` + w.email + `"`)})
	if err != nil {
		return err
	}
	if len(out.Users) > 0 {
		return errors.New("the user is still in the pool")
	}
	return nil
}

// noOwnerItems checks that no orders table item names the user (a scan,
// not the index the worker used) and that the order is 404.
func (w *walk) noOwnerItems(ctx context.Context, orderID string) error {
	p := dynamodb.NewScanPaginator(w.ordersDB(w.home), &dynamodb.ScanInput{TableName: aws.String(w.home.OrdersTable)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			if o, ok := it[ordertable.AttrOwner].(*ddbtypes.AttributeValueMemberS); ok && o.Value == w.sub {
				return fmt.Errorf("item %v still names the user", it[ordertable.AttrPK])
			}
		}
	}
	code, _, err := w.do(ctx, http.MethodGet, w.home.OrdersAPIURL+"/orders/"+orderID, nil, "")
	if err == nil && code != http.StatusNotFound {
		err = fmt.Errorf("GET /orders/%s -> %d, want 404", orderID, code)
	}
	return err
}

// noSiteRows checks the site databases: no row of the user, one tombstone each.
func (w *walk) noSiteRows(ctx context.Context, erasureID string) error {
	// Every site database that drains the home queue (both of a zone pair)
	// erased the user and keeps its tombstone.
	for _, path := range w.siteDBs() {
		if err := noRowsAt(ctx, path, w.sub, erasureID); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// noRowsAt checks one site database: no row of sub, the erasure's tombstone.
func noRowsAt(ctx context.Context, path, sub, erasureID string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var rows int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM orders WHERE owner = ?`, sub).Scan(&rows); err != nil {
		return err
	}
	var tomb string
	err = db.QueryRowContext(ctx, `SELECT erasure_id FROM erased_owners WHERE pseudonym = ?`, orders.Pseudonym(sub)).Scan(&tomb)
	switch {
	case err != nil:
		return fmt.Errorf("tombstone: %w", err)
	case rows != 0:
		return fmt.Errorf("%d rows of the user", rows)
	case tomb != erasureID:
		return fmt.Errorf("tombstone of erasure %s, want %s", tomb, erasureID)
	}
	return nil
}

// noMessages checks that no message of the queue or its DLQ names the user
// (peeked with a 1 s visibility timeout).
func (w *walk) noMessages(ctx context.Context) error {
	q := sqs.NewFromConfig(w.motoCfg(w.home))
	for _, url := range []string{w.home.OrdersQueueURL, w.home.OrdersDLQURL} {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, VisibilityTimeout: 1})
		if err != nil {
			return err
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), w.sub) {
				return fmt.Errorf("a message in %s names the user", queueName(url))
			}
		}
	}
	return nil
}

// erasureRecord reads the completed erasure record: what it keeps.
func (w *walk) erasureRecord(ctx context.Context) (string, error) {
	out, err := w.ordersDB(w.home).GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(w.home.OrdersTable), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{ordertable.AttrPK: &ddbtypes.AttributeValueMemberS{Value: ordertable.ErasureKey(w.sub)}}})
	if err != nil {
		return "", err
	}
	var attrs []string
	for k, v := range out.Item {
		if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok && (strings.Contains(s.Value, w.sub) || strings.Contains(s.Value, w.email)) {
			return "", fmt.Errorf("attribute %s names the user", k)
		}
		attrs = append(attrs, k)
	}
	sort.Strings(attrs)
	var counts []string
	if m, ok := out.Item["counts"].(*ddbtypes.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			if n, ok := v.(*ddbtypes.AttributeValueMemberN); ok {
				counts = append(counts, k+" "+n.Value)
			}
		}
	}
	sort.Strings(counts)
	return fmt.Sprintf("%s keeps %s; erased: %s; no address, no Cognito id", ordertable.ErasureKey(w.sub)[:20]+"…", strings.Join(attrs, ", "), strings.Join(counts, ", ")), nil
}

// queueName is the last element of a queue URL.
func queueName(url string) string { return url[strings.LastIndex(url, "/")+1:] }

// signUpAgain signs the erased address up at the zone peer's Cognito
// endpoint (the triggers run), confirms it and signs in there.
func (w *walk) signUpAgain(ctx context.Context, claimsBefore int, claimsErr error) (string, error) {
	p := w.peer
	c := w.cognito(p)
	_, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: aws.String(p.ClientID), Username: aws.String(w.email), Password: aws.String(w.pwd),
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(w.email)},
			{Name: aws.String("custom:region"), Value: aws.String(p.Region)},
			{Name: aws.String("custom:country"), Value: aws.String("DE")},
		}})
	if err != nil {
		return "", fmt.Errorf("sign-up in %s: %w", p.Region, err)
	}
	if _, err := c.ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{ClientId: aws.String(p.ClientID), Username: aws.String(w.email), ConfirmationCode: aws.String("123456")}); err != nil {
		return "", fmt.Errorf("confirm in %s: %w", p.Region, err)
	}
	if err := w.sameClaims(ctx, claimsBefore, claimsErr, 1); err != nil {
		return "", err
	}
	auth, err := w.signIn(ctx, p, w.pwd)
	if err == nil && (auth.AuthenticationResult == nil || aws.ToString(auth.AuthenticationResult.IdToken) == "") {
		err = errors.New("no ID token")
	}
	if err != nil {
		return "", fmt.Errorf("sign-in in %s: %w", p.Region, err)
	}
	return fmt.Sprintf("the erased address signed up, was claimed for %s (the same zone) and signed in there", p.Region), nil
}
