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
	// partner is the region's zone-pair partner (""), pairURL its
	// PairHttpApi, trafficURL its API name's failover record pair.
	partner, pairURL, trafficURL string
	// routingControl is the ARC routing control of its API name (pair).
	routingControl string
	// region is the provisioned region (nil for the pair's shared servers).
	region  *provision.Region
	siteKey siteKey
	servers []*http.Server
	store   orderstore.Store
}

// startRegion builds the region's handlers exactly as their Lambda mains do
// (same config types, same SDK options) and serves them on free loopback ports.
// The orders API seals to key's public key (the template's SitePublicKey
// parameter, as provisioned) and the processor opens with its key file.
func startRegion(ctx context.Context, r *provision.Region, o options, p *provisioned, pair *pairStack, log *slog.Logger, g *errgroup.Group) (*regionRuntime, error) {
	apiDef, ep, motoURL := p.ordersAPI, p.endpoints, p.endpoints.moto
	key, ok := p.siteKeys[r.Region]
	if !ok {
		return nil, fmt.Errorf("no site key for region %s", r.Region)
	}
	partner := pair.partner(r.Region)
	var pr *provision.Region
	if partner != "" {
		if pr = p.stack.Region(partner); pr == nil {
			return nil, fmt.Errorf("zone pair: no region %s", partner)
		}
	}
	rt := &regionRuntime{siteKey: key, partner: partner, region: r}
	ok = false
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
	env, err := templateEnv(ep, r, "PreSignUpFunction")
	if err != nil {
		return nil, err
	}
	pre, err := triggers.Build(ctx, "presignup", env, tlog, triggers.NewPreSignUp)
	if err != nil {
		return nil, err
	}
	if env, err = templateEnv(ep, r, "PostConfirmationFunction"); err != nil {
		return nil, err
	}
	confirm, err := triggers.Build(ctx, "postconfirmation", env, tlog, triggers.NewPostConfirmation)
	if err != nil {
		return nil, err
	}
	if env, err = templateEnv(ep, r, "PreAuthFunction"); err != nil {
		return nil, err
	}
	auth, err := triggers.Build(ctx, "preauth", env, tlog, triggers.NewPreAuth)
	if err != nil {
		return nil, err
	}
	ccfg, err := awsconfig.Load(ctx, r.Region, ep.env(r.Region, nil), awsconfig.Options{})
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
	if pr != nil {
		// The replica of the partner's pool, as Cognito multi-Region
		// replication serves it here: its users, signing in with this
		// region's own PreAuthentication trigger.
		if cogCfg.Replicas, err = replicaOf(ctx, ep, pr, lambda.NewHandler(auth).Invoke); err != nil {
			return nil, err
		}
	}
	cog, err := cognitolocal.New(cogCfg)
	if err != nil {
		return nil, err
	}
	pair.addCognito(r.Region, cog)
	if rt.cognitoURL, err = rt.serve(g, r.Region+" cognito", cog); err != nil {
		return nil, err
	}

	// Orders API: the template's routes ($default included), all behind the
	// JWT authorizer, and its CORS configuration.
	// Built by the function's own cold start (ordersapi.Setup: ParseEnv,
	// awsconfig.Load, NewFromAWS) with the variables the template gives it.
	if env, err = templateEnv(ep, r, "OrdersApiFunction"); err != nil {
		return nil, err
	}
	orders, err := ordersapi.Setup(ctx, env, log.With("component", r.Region+"/orders-api"))
	if err != nil {
		return nil, err
	}
	invoke := pair.impairable(r.Region, lambda.NewHandler(orders.Handle).Invoke)
	// API Gateway's metrics of every request, published to moto's
	// CloudWatch, where the 5xx alarm (metric math) reads them.
	cwCfg, err := awsconfig.Load(ctx, r.Region, ep.env(r.Region, nil), awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	pub := metricslocal.New(cloudwatch.NewFromConfig(cwCfg, provision.CloudWatchQueryProtocol), log.With("component", r.Region+"/api-metrics"))
	g.Go(named(r.Region+" api metrics", func() error { pub.Run(ctx, metricsFlush); return nil }))
	api := localAPI{id: apiIDOf(r), routes: apiDef.Routes, cors: apiDef.CORS, pool: r, metrics: pub, invoke: invoke}
	if rt.ordersURL, err = rt.serveAPI(ctx, g, r.Region+" orders api", api, motoURL, log.With("component", r.Region+"/http-api")); err != nil {
		return nil, err
	}
	if pr != nil {
		// PairHttpApi: the same function behind the partner pool's
		// authorizer, serving the partner's users.
		def, ok := r.HTTPAPIs["PairHttpApi"]
		if !ok {
			return nil, fmt.Errorf("zone pair: the template gives %s no PairHttpApi", r.Region)
		}
		api := localAPI{id: "pair-" + r.Region, routes: def.Routes, cors: apiDef.CORS, pool: pr, metrics: pub, invoke: invoke}
		if rt.pairURL, err = rt.serveAPI(ctx, g, r.Region+" pair http api", api, motoURL, log.With("component", r.Region+"/pair-http-api")); err != nil {
			return nil, err
		}
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
	pvars := map[string]string{
		"ORDERS_QUEUE_URL": r.OrdersQueueURL, "ORDERS_TABLE": r.OrdersTable, "SITE_NAME": siteName(r), "SITE_KEY_FILE": key.file,
		"WAIT_TIME": "10s", "DRAIN_TIMEOUT": "5s", "HEARTBEAT_INTERVAL": "15s",
	}
	if pr != nil {
		// A site of the pair drains both queues into its one database,
		// claims in the pair table and holds both regions' keys.
		if pvars["SITE_KEY_FILE"], err = pairKeyFile(o.dir, r.Region, p.siteKeys, partner); err != nil {
			return nil, err
		}
		pvars["ORDERS_TABLE"], pvars["PAIR_REGION"], pvars["PAIR_QUEUE_URL"] = r.PairTable, partner, r.PairQueueURL
	}
	penv := ep.env(r.Region, pvars)
	pc, err := processor.ParseEnv(penv)
	if err != nil {
		return nil, fmt.Errorf("processor configuration: %w", err)
	}
	pcfg, err := awsconfig.Load(ctx, r.Region, penv, pc.SDKOptions())
	if err != nil {
		return nil, err
	}
	// The site's private keys, as the container reads SITE_KEY_FILE.
	keys, err := sealed.ReadKeyFile(pvars["SITE_KEY_FILE"])
	if err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	// One receive loop per queue (processor.Config.Loops), as the
	// container runs them: a site of a pair drains both regions' queues.
	for _, lc := range pc.Loops() {
		proc, err := processor.NewFromAWS(lc, pcfg, penv, rt.store, keys, processor.Extensions{}, log.With("component", r.Region+"/processor"))
		if err != nil {
			return nil, fmt.Errorf("processor: %w", err)
		}
		g.Go(named(r.Region+" processor "+lc.Region, func() error {
			err := proc.Run(ctx)
			if ctx.Err() == nil && err == nil {
				err = errors.New("stopped unexpectedly")
			}
			return err
		}))
	}
	// The erasure worker, built by its function's cold start (erasure.Setup)
	// with the template's variables, invoked with the Scheduled Event of its
	// rate(1 minute) schedule every erasureTick, and re-sending its site
	// messages after erasureResend, so an erasure completes in seconds.
	if env, err = templateEnv(ep, r, "ErasureFunction"); err != nil {
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
func templateEnv(ep endpoints, r *provision.Region, logicalID string) (func(string) string, error) {
	f, ok := r.Functions[logicalID]
	if !ok {
		return nil, fmt.Errorf("template: no function %s in %s", logicalID, r.Region)
	}
	return ep.env(r.Region, f.Env), nil
}

// endpoints are the local stack's AWS endpoints: moto, and the DynamoDB
// proxy of a zone pair (pairStack), which serves the pair table.
type endpoints struct{ moto, dynamodb string }

// env is the environment a function of region sees in the local stack:
// fn (the function's own variables, as the template gives them), AWS_REGION,
// fake credentials and moto as the SDK's endpoint (DynamoDB through the
// pair's proxy when there is one). It is composed here, never
// read from or written to the process environment, so nothing the shell
// exports (a profile, real keys, AWS_ENDPOINT_URL_<SERVICE>) reaches a
// handler, and nothing can reach a real AWS account.
func (e endpoints) env(region string, fn map[string]string) func(string) string {
	env := map[string]string{}
	for k, v := range fn {
		if v != "" { // a variable the template leaves empty is unset
			env[k] = v
		}
	}
	env["AWS_REGION"] = region
	env["AWS_ACCESS_KEY_ID"] = "testing"
	env["AWS_SECRET_ACCESS_KEY"] = "testing"
	env["AWS_ENDPOINT_URL"] = e.moto
	if e.dynamodb != "" {
		env["AWS_ENDPOINT_URL_DYNAMODB"] = e.dynamodb
	}
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

// replicaOf is the replica, in this region, of partner region pr's user
// pool: its users and app client, signing in with this region's own
// PreAuthentication trigger preauth.
func replicaOf(ctx context.Context, ep endpoints, pr *provision.Region, preauth cognitolocal.Trigger) ([]cognitolocal.Replica, error) {
	cfg, err := awsconfig.Load(ctx, pr.Region, ep.env(pr.Region, nil), awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	idp := cip.NewFromConfig(cfg)
	pc, err := idp.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: &pr.UserPoolID, ClientId: &pr.ClientID})
	if err != nil {
		return nil, fmt.Errorf("describe the partner's app client: %w", err)
	}
	rp := cognitolocal.Replica{PoolID: pr.UserPoolID, PrimaryRegion: pr.Region, ClientIDs: []string{pr.ClientID},
		PreAuthentication: preauth, Users: idp}
	rp.FromUserPoolClient(pc.UserPoolClient)
	return []cognitolocal.Replica{rp}, nil
}

// localAPI is one HTTP API of a region: its id (the ApiId of its metrics),
// routes and CORS, the pool whose tokens its JWT authorizer takes (the
// multi-Region issuer of a zone pair's pool is, locally, the pool's moto
// issuer), and the orders function it invokes.
type localAPI struct {
	id      string
	routes  []string
	cors    *httpapilocal.CORS
	pool    *provision.Region
	metrics *metricslocal.Publisher
	invoke  httpapilocal.Invoke
}

// serveAPI serves api as name and returns its URL.
func (rt *regionRuntime) serveAPI(ctx context.Context, g *errgroup.Group, name string, api localAPI, motoURL string, log *slog.Logger) (string, error) {
	jwks := httpapilocal.NewJWKS(httpapilocal.MotoJWKSURL(motoURL, api.pool.UserPoolID), nil)
	if err := jwks.Refresh(ctx); err != nil {
		return "", err
	}
	h, err := httpapilocal.New(httpapilocal.Config{
		APIID:    api.id,
		Metrics:  api.metrics.HTTPAPI,
		Routes:   api.routes,
		CORS:     api.cors,
		Issuer:   httpapilocal.CognitoIssuer(api.pool.Region, api.pool.UserPoolID),
		Audience: []string{api.pool.ClientID},
		Keyfunc:  jwks.Keyfunc,
		Handler:  api.invoke,
		Logger:   log,
	})
	if err != nil {
		return "", err
	}
	return rt.serve(g, name, h)
}
