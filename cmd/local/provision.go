package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/internal/template"
)

// provisioner creates the stack's resources in the moto_server at endpoint;
// main passes provisionStack to run.
type provisioner func(ctx context.Context, o options, endpoint string, pair *pairStack) (*provisioned, error)

// provisionStack provisions what template.yaml (and onprem.yaml next to it)
// defines: the template is the local stack's only source of resources.
func provisionStack(ctx context.Context, o options, endpoint string, pair *pairStack) (*provisioned, error) {
	defs, err := provision.Load(o.template)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.template, err)
	}
	main := defs.Templates[0]
	p := &provisioned{schedules: schedules(main), endpoints: endpoints{moto: endpoint}}
	// Each region's site key pair, before the resources: its public key is
	// the template parameter the orders API seals to.
	if p.siteKeys, err = loadSiteKeys(o.dir, o.regions); err != nil {
		return nil, err
	}
	if p.ordersAPI, err = ordersHTTPAPI(main); err != nil {
		return nil, fmt.Errorf("%s: %w", o.template, err)
	}
	params := sitePublicKeyParameters(p.siteKeys)
	var pairs []provision.Pair
	if pair != nil {
		// The pair's regions fail over to each other with the ARC switch.
		for r, kv := range pair.parameters() {
			for k, v := range kv {
				params[r][k] = v
			}
		}
		pairs = append(pairs, pair.provisionPair())
	}
	p.stack, err = provision.Apply(ctx, defs, provision.Options{Endpoint: endpoint, Regions: o.regions, RegistryRegion: o.registryRegion,
		RegionParameters: params, Pairs: pairs})
	if err != nil {
		return nil, fmt.Errorf("provision from %s: %w", o.template, err)
	}
	return p, nil
}

// provisioned is what provisioning produced.
type provisioned struct {
	stack *provision.Stack
	// schedules are the functions' EventBridge schedules by logical id
	// (e.g. "rate(1 minute)"), which the local stack ticks.
	schedules map[string]string
	// ordersAPI is the orders HTTP API's routes and CORS configuration.
	ordersAPI httpAPIDef
	// siteKeys are the regions' site key pairs, by region.
	siteKeys map[string]siteKey
	// endpoints are the AWS endpoints the functions use (moto; the pair
	// table's proxy once it runs).
	endpoints endpoints
}

// schedules finds the Schedule events of the template's functions.
func schedules(defs *template.Template) map[string]string {
	out := map[string]string{}
	for _, r := range defs.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evs, _ := r.Properties["Events"].(map[string]any)
		for _, ev := range evs {
			e, _ := ev.(map[string]any)
			if e["Type"] != "Schedule" {
				continue
			}
			props, _ := e["Properties"].(map[string]any)
			if expr, ok := props["Schedule"].(string); ok {
				out[r.LogicalID] = expr
			}
		}
	}
	return out
}

// rateEvery parses an EventBridge rate expression ("rate(5 minutes)");
// ok is false for anything else (cron expressions are not ticked locally).
func rateEvery(expr string) (time.Duration, bool) {
	var n int
	var unit string
	if _, err := fmt.Sscanf(strings.TrimSpace(expr), "rate(%d %s", &n, &unit); err != nil || n <= 0 {
		return 0, false
	}
	switch strings.TrimSuffix(strings.TrimSuffix(unit, ")"), "s") {
	case "minute":
		return time.Duration(n) * time.Minute, true
	case "hour":
		return time.Duration(n) * time.Hour, true
	case "day":
		return time.Duration(n) * 24 * time.Hour, true
	}
	return 0, false
}
