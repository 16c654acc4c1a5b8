package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"golang.org/x/sync/errgroup"

	"github.com/homeregion/homeregion/internal/cognitolocal"
	"github.com/homeregion/homeregion/internal/httpapilocal"
	"github.com/homeregion/homeregion/internal/metricslocal"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/shared/awsconfig"
	"github.com/homeregion/homeregion/shared/erasure"
	"github.com/homeregion/homeregion/shared/ordersapi"
	"github.com/homeregion/homeregion/shared/orderstore"
	"github.com/homeregion/homeregion/shared/processor"
	"github.com/homeregion/homeregion/shared/sealed"
	"github.com/homeregion/homeregion/shared/triggers"
)

// regionRuntime is what runs for one region.
type regionRuntime struct {
	cognitoURL, ordersURL, siteDB string
	siteKey                       siteKey
	servers                       []*http.Server
	store                         orderstore.Store
}

// startRegion builds the region's handlers exactly as their Lambda mains do
// (same config types, same SDK options) and serves them on free loopback ports.
// The orders API seals to key's public key (the template's SitePublicKey
// parameter, as provisioned) and the processor opens with its key file.
func startRegion(ctx context.Context, r *provision.Region, o options, apiDef httpAPIDef, key siteKey, motoURL string, log *slog.Logger, g *errgroup.Group) (*regionRuntime, error) {
	rt := &regionRuntime{siteKey: key}
	ok := false
	defer func() {
		if !ok {
			rt.shutdown()
			rt.close()
		}
	}()

	// Cognito triggers: presignup, postconfirmation and preauth, each built by
	// its function's own cold start (triggers.Build: ParseEnv, awsconfig.Load,
	// NewFromAWS, the constructor) with the variables the template gives it.
	tlog := log.With("component", r.Region+"/triggers")
	env, err := templateEnv(motoURL, r, "PreSignUpFunction")
	if err != nil {
		return nil, err
	}
	pre, err := triggers.Build(ctx, "presignup", env, tlog, triggers.NewPreSignUp)
	if err != nil {
		return nil, err
	}
	if env, err = templateEnv(motoURL, r, "PostConfirmationFunction"); err != nil {
		return nil, err
	}
	confirm, err := triggers.Build(ctx, "postconfirmation", env, tlog, triggers.NewPostConfirmation)
	if err != nil {
		return nil, err
	}
	if env, err = templateEnv(motoURL, r, "PreAuthFunction"); err != nil {
		return nil, err
	}
	auth, err := triggers.Build(ctx, "preauth", env, tlog, triggers.NewPreAuth)
	if err != nil {
		return nil, err
	}
	ccfg, err := awsconfig.Load(ctx, r.Region, localEnv(motoURL, r.Region, nil), awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	idp := cip.NewFromConfig(ccfg)
	// What Cognito enforces around the triggers, read from the pool as provisioned.
	pool, err := idp.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: &r.UserPoolID})
	if err != nil {
		return nil, fmt.Errorf("describe user pool: %w", err)
	}
	client, err := idp.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: &r.UserPoolID, ClientId: &r.ClientID})
	if err != nil {
		return nil, fmt.Errorf("describe app client: %w", err)
	}
	cogCfg := cognitolocal.Config{
		Region: r.Region, UserPoolID: r.UserPoolID, ClientIDs: []string{r.ClientID}, Upstream: motoURL,
		PreSignUp:         lambda.NewHandler(pre).Invoke,
		PostConfirmation:  lambda.NewHandler(confirm).Invoke,
		PreAuthentication: lambda.NewHandler(auth).Invoke,
		Users:             idp,
		Logger:            log.With("component", r.Region+"/cognito"),
	}
	// Password policy, auto-verified attributes, verification before update
	// and immutable attributes, as provisioned (moto stores and echoes them).
	cogCfg.FromUserPool(pool.UserPool)
	// The app client's ExplicitAuthFlows and PreventUserExistenceErrors, as
	// provisioned from the template.
	cogCfg.FromUserPoolClient(client.UserPoolClient)
	// moto down stands for the registry down: sign-in answers with the
	// PreAuthentication trigger's own message.
	cogCfg.SignInUnavailable = triggers.SignInUnavailable
	ep, err := cognitolocal.New(cogCfg)
	if err != nil {
		return nil, err
	}
	if rt.cognitoURL, err = rt.serve(g, r.Region+" cognito", ep); err != nil {
		return nil, err
	}

	// Orders API: the template's routes ($default included), all behind the
	// JWT authorizer, and its CORS configuration.
	// Built by the function's own cold start (ordersapi.Setup: ParseEnv,
	// awsconfig.Load, NewFromAWS) with the variables the template gives it.
	if env, err = templateEnv(motoURL, r, "OrdersApiFunction"); err != nil {
		return nil, err
	}
	orders, err := ordersapi.Setup(ctx, env, log.With("component", r.Region+"/orders-api"))
	if err != nil {
		return nil, err
	}
	jwks := httpapilocal.NewJWKS(httpapilocal.MotoJWKSURL(motoURL, r.UserPoolID), nil)
	if err := jwks.Refresh(ctx); err != nil {
		return nil, err
	}
	// API Gateway's metrics of every request, published to moto's
	// CloudWatch, where the 5xx alarm (metric math) reads them.
	cwCfg, err := awsconfig.Load(ctx, r.Region, localEnv(motoURL, r.Region, nil), awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	pub := metricslocal.New(cloudwatch.NewFromConfig(cwCfg, provision.CloudWatchQueryProtocol), log.With("component", r.Region+"/api-metrics"))
	g.Go(named(r.Region+" api metrics", func() error { pub.Run(ctx, metricsFlush); return nil }))
	api, err := httpapilocal.New(httpapilocal.Config{
		APIID:    apiIDOf(r),
		Metrics:  pub.HTTPAPI,
		Routes:   apiDef.Routes,
		CORS:     apiDef.CORS,
		Issuer:   httpapilocal.CognitoIssuer(r.Region, r.UserPoolID),
		Audience: []string{r.ClientID},
		Keyfunc:  jwks.Keyfunc,
		Handler:  lambda.NewHandler(orders.Handle).Invoke,
		Logger:   log.With("component", r.Region+"/http-api"),
	})
	if err != nil {
		return nil, err
	}
	if rt.ordersURL, err = rt.serve(g, r.Region+" orders api", api); err != nil {
		return nil, err
	}

	// The primary on-prem site's order processor, with its SQLite database.
	rt.siteDB = filepath.Join(o.dir, r.Region, "orders.db")
	if err := os.MkdirAll(filepath.Dir(rt.siteDB), 0o755); err != nil {
		return nil, err
	}
	if rt.store, err = orderstore.Open(ctx, rt.siteDB); err != nil {
		return nil, err
	}
	// The processor's configuration through its own ParseEnv, as the
	// container reads it, with shorter polls and drains for a local stack.
	penv := localEnv(motoURL, r.Region, map[string]string{
		"ORDERS_QUEUE_URL": r.OrdersQueueURL, "ORDERS_TABLE": r.OrdersTable, "SITE_NAME": siteName(r), "SITE_KEY_FILE": key.file,
		"WAIT_TIME": "10s", "DRAIN_TIMEOUT": "5s", "HEARTBEAT_INTERVAL": "15s",
	})
	pc, err := processor.ParseEnv(penv)
	if err != nil {
		return nil, fmt.Errorf("processor configuration: %w", err)
	}
	pcfg, err := awsconfig.Load(ctx, r.Region, penv, pc.SDKOptions())
	if err != nil {
		return nil, err
	}
	// The site's private keys, as the container reads SITE_KEY_FILE.
	keys, err := sealed.ReadKeyFile(key.file)
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	proc, err := processor.NewFromAWS(pc, pcfg, penv, rt.store, keys, processor.Extensions{}, log.With("component", r.Region+"/processor"))
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	g.Go(named(r.Region+" processor", func() error {
		err := proc.Run(ctx)
		if ctx.Err() == nil && err == nil {
			err = errors.New("stopped unexpectedly")
		}
		return err
	}))
	// The erasure worker, built by its function's cold start (erasure.Setup)
	// with the template's variables, invoked with the Scheduled Event of its
	// rate(1 minute) schedule every erasureTick, and re-sending its site
	// messages after erasureResend, so an erasure completes in seconds.
	if env, err = templateEnv(motoURL, r, "ErasureFunction"); err != nil {
		return nil, err
	}
	elog := log.With("component", r.Region+"/erasure")
	eh, err := erasure.Setup(ctx, env, elog)
	if err != nil {
		return nil, err
	}
	w := eh.Worker()
	w.ResendInterval, w.MaxResendInterval, w.SettleAge = erasureResend, erasureResend, erasureTick
	w.Metrics = io.Discard
	tickSchedule(ctx, g, r.Region, "ErasureFunction", erasureTick, lambda.NewHandler(eh.Handle).Invoke, elog)
	ok = true
	return rt, nil
}

// metricsFlush is how often the API metrics are sent to moto: under
// alarmlocal.MetricDelay, so a period's metrics are in before it is read.
const metricsFlush = 250 * time.Millisecond

// apiIDOf is the orders HTTP API's id as its alarms name it (the
// ApiId dimension of their AWS/ApiGateway metrics), "local" without one.
func apiIDOf(r *provision.Region) string {
	for _, a := range r.Alarms {
		for _, q := range a.Queries {
			if q.Namespace == httpapilocal.MetricNamespace && q.Dimensions["ApiId"] != "" {
				return q.Dimensions["ApiId"]
			}
		}
	}
	return "local"
}

// The local erasure worker's timings (see startRegion).
const (
	erasureTick   = time.Second
	erasureResend = 3 * time.Second
)

// templateEnv is the environment template.yaml gives function logicalID in
// region r (as provisioned), plus what Lambda adds (localEnv).
func templateEnv(motoURL string, r *provision.Region, logicalID string) (func(string) string, error) {
	f, ok := r.Functions[logicalID]
	if !ok {
		return nil, fmt.Errorf("template: no function %s in %s", logicalID, r.Region)
	}
	return localEnv(motoURL, r.Region, f.Env), nil
}

// localEnv is the environment a function of region sees in the local stack:
// fn (the function's own variables, as the template gives them), AWS_REGION,
// fake credentials and moto as the SDK's endpoint. It is composed here, never
// read from or written to the process environment, so nothing the shell
// exports (a profile, real keys, AWS_ENDPOINT_URL_<SERVICE>) reaches a
// handler, and nothing can reach a real AWS account.
func localEnv(motoURL, region string, fn map[string]string) func(string) string {
	env := map[string]string{}
	for k, v := range fn {
		if v != "" { // a variable the template leaves empty is unset
			env[k] = v
		}
	}
	env["AWS_REGION"] = region
	env["AWS_ACCESS_KEY_ID"] = "testing"
	env["AWS_SECRET_ACCESS_KEY"] = "testing"
	env["AWS_ENDPOINT_URL"] = motoURL
	return func(k string) string { return env[k] }
}

// siteName is the processor's Site metric dimension: the one the site's
// alarms watch when the template defines them, else the primary service.
func siteName(r *provision.Region) string {
	// The primary site's stalled alarm promotes the standby: prefer it.
	for _, promote := range []bool{true, false} {
		for _, a := range r.Alarms {
			if s := a.Dimensions["Site"]; s != "" && a.Namespace == processor.MetricNamespace && (!promote || a.Action == "promote") {
				return s
			}
		}
	}
	if r.PrimaryService != "" {
		return r.PrimaryService
	}
	return "local-" + r.Region + "-primary"
}

// serve serves h on a free 127.0.0.1 port and returns its URL.
func (rt *regionRuntime) serve(g *errgroup.Group, name string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("%s: listen: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	rt.servers = append(rt.servers, srv)
	g.Go(named(name, func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}))
	return "http://" + l.Addr().String(), nil
}

// shutdown stops the HTTP servers, letting requests in flight finish (5 s).
func (rt *regionRuntime) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range rt.servers {
		_ = s.Shutdown(ctx)
	}
}

// close releases the site database (after the processor has stopped).
func (rt *regionRuntime) close() {
	if rt.store != nil {
		_ = rt.store.Close()
	}
}
