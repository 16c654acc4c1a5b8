package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/homeregion/homeregion/internal/arclocal"
	"github.com/homeregion/homeregion/internal/cognitolocal"
	"github.com/homeregion/homeregion/internal/pairlocal"
	"github.com/homeregion/homeregion/internal/provision"
	"github.com/homeregion/homeregion/internal/trafficlocal"
)

// arcEndpointRegions are the regions of the local ARC cluster's endpoints
// (a real cluster has five; the failover function tries them in turn).
var arcEndpointRegions = []string{"us-west-2", "us-east-1", "eu-west-1"}

// pairStack is what the local stack runs for its zone pair (-pair), beside
// each region's own components:
//
//   - the failover switch: a local Route 53 ARC cluster (internal/arclocal)
//     with one routing control per region of the pair and the safety rule
//     that keeps at least one of them On, reached by the failover functions
//     through its endpoints (SWITCH=arc);
//   - the pair table: one moto table that both regions reach through
//     internal/pairlocal, the AWS_ENDPOINT_URL_DYNAMODB of every function
//     and processor, which makes it behave as a DynamoDB MRSC table;
//   - per region, the failover record pair of its API name
//     (internal/trafficlocal): its own orders API while its routing control
//     is On, the partner's PairHttpApi otherwise;
//   - the control endpoint, which impairs a region: its orders API answers
//     every request with an integration failure (API Gateway's 500) and its
//     Cognito endpoint answers 503, as an outage of those services would.
type pairStack struct {
	regions  [2]string
	witness  string
	arc      *arclocal.Cluster
	arcEPs   []*arclocal.Endpoint
	controls map[string]string // region -> routing control ARN
	proxy    *pairlocal.Proxy
	proxyURL string

	mu       sync.Mutex
	impaired map[string]bool
	cognito  map[string]*cognitolocal.Endpoint
}

// parsePair reads -pair: "A:B" or "none".
func parsePair(s string, regions []string) ([2]string, bool, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return [2]string{}, false, nil
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok || a == "" || b == "" || a == b {
		return [2]string{}, false, fmt.Errorf("-pair %q: want REGION:REGION or none", s)
	}
	for _, r := range []string{a, b} {
		if !slices.Contains(regions, r) {
			return [2]string{}, false, fmt.Errorf("-pair %q: %s is not one of -regions %s", s, r, strings.Join(regions, ","))
		}
	}
	return [2]string{a, b}, true, nil
}

// routingControlARN is region's local routing control.
func routingControlARN(region string) string {
	return "arn:aws:route53-recovery-control::" + provision.DefaultAccountID + ":controlpanel/local/routingcontrol/" + strings.ReplaceAll(region, "-", "")
}

// newPairStack starts the pair's ARC cluster (both routing controls On).
func newPairStack(regions [2]string, witness string) (*pairStack, error) {
	p := &pairStack{regions: regions, witness: witness, arc: arclocal.New(), controls: map[string]string{},
		impaired: map[string]bool{}, cognito: map[string]*cognitolocal.Endpoint{}}
	panel := "arn:aws:route53-recovery-control::" + provision.DefaultAccountID + ":controlpanel/local"
	for _, r := range regions {
		p.controls[r] = routingControlARN(r)
		p.arc.AddRoutingControl(p.controls[r], r+"-api", panel, arclocal.On)
	}
	p.arc.AddAssertionRule(arclocal.AssertionRule{
		ARN:      panel + "/safetyrule/atleastoneon",
		Controls: []string{p.controls[regions[0]], p.controls[regions[1]]},
		AtLeast:  1,
	})
	for _, r := range arcEndpointRegions {
		ep, err := p.arc.Start(r)
		if err != nil {
			p.close()
			return nil, err
		}
		p.arcEPs = append(p.arcEPs, ep)
	}
	return p, nil
}

// parameters are the template parameters that make each region of the pair
// fail over to its partner with the ARC switch.
func (p *pairStack) parameters() map[string]map[string]string {
	var eps []string
	for _, ep := range p.arcEPs {
		eps = append(eps, ep.Region+"="+ep.URL)
	}
	out := map[string]map[string]string{}
	for i, r := range p.regions {
		out[r] = map[string]string{
			"SecondaryRegion":      p.regions[1-i],
			"FailoverSwitch":       "arc",
			"ArcRoutingControlArn": p.controls[r],
			"ArcClusterEndpoints":  strings.Join(eps, ","),
		}
	}
	return out
}

// provisionPair is the pair as internal/provision deploys it.
func (p *pairStack) provisionPair() provision.Pair {
	return provision.Pair{Regions: p.regions, Witness: p.witness}
}

// startProxy serves the DynamoDB proxy that makes the pair table, created
// in its table region, one table in both regions.
func (p *pairStack) startProxy(g *errgroup.Group, motoURL string, st *provision.Stack, serve func(*errgroup.Group, string, http.Handler) (string, error)) error {
	tables := map[string]string{}
	for _, r := range p.regions {
		reg := st.Region(r)
		if reg == nil || reg.PairTable == "" || reg.PairTableRegion == "" {
			return fmt.Errorf("pair: %s was provisioned without its pair table", r)
		}
		tables[reg.PairTable] = reg.PairTableRegion
	}
	px, err := pairlocal.New(pairlocal.Config{Upstream: motoURL, Tables: tables})
	if err != nil {
		return err
	}
	p.proxy = px
	p.proxyURL, err = serve(g, "pair table proxy", px)
	return err
}

// partner returns region's partner ("" when region is not in the pair).
func (p *pairStack) partner(region string) string {
	if p == nil {
		return ""
	}
	return provision.Pair{Regions: p.regions}.Partner(region)
}

// healthy reads the PRIMARY record's health check of region's API name:
// its routing control is On.
func (p *pairStack) healthy(region string) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) {
		switch p.arc.State(p.controls[region]) {
		case arclocal.On:
			return true, nil
		case arclocal.Off:
			return false, nil
		}
		return false, fmt.Errorf("routing control %s unknown", p.controls[region])
	}
}

// record returns the failover record pair of region's API name.
func (p *pairStack) record(region, primaryURL, secondaryURL string) (*trafficlocal.Record, error) {
	pu, err := url.Parse(primaryURL)
	if err != nil {
		return nil, err
	}
	su, err := url.Parse(secondaryURL)
	if err != nil {
		return nil, err
	}
	return trafficlocal.New(trafficlocal.Options{
		Primary:   trafficlocal.Target{Region: region, URL: pu},
		Secondary: trafficlocal.Target{Region: p.partner(region), URL: su},
		Healthy:   p.healthy(region),
	})
}

// isImpaired reports whether region's orders API and Cognito are down.
func (p *pairStack) isImpaired(region string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.impaired[region]
}

// setImpaired takes region's orders API and Cognito endpoint down or up.
func (p *pairStack) setImpaired(region string, down bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep, ok := p.cognito[region]
	if !ok {
		return fmt.Errorf("no local region %s", region)
	}
	p.impaired[region] = down
	ep.SetDown(down)
	return nil
}

// errImpaired is the orders function's failure while its region is impaired.
var errImpaired = errors.New("local: this region is impaired (control endpoint)")

// impairable wraps region's orders API integration: it fails while the
// region is impaired, as an outage of Lambda or its dependencies would.
func (p *pairStack) impairable(region string, invoke func(context.Context, []byte) ([]byte, error)) func(context.Context, []byte) ([]byte, error) {
	if p == nil {
		return invoke
	}
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		if p.isImpaired(region) {
			return nil, errImpaired
		}
		return invoke(ctx, payload)
	}
}

// ServeHTTP is the control endpoint:
//
//	POST /regions/{region}/impair    region's orders API and Cognito fail
//	POST /regions/{region}/restore   they work again
//	GET  /switch                     the routing controls' states
func (p *pairStack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet && r.URL.Path == "/switch" {
		out := map[string]string{}
		for reg, arn := range p.controls {
			out[reg] = string(p.arc.State(arn))
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 3 || parts[0] != "regions" || (parts[2] != "impair" && parts[2] != "restore") {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"POST /regions/{region}/impair|restore or GET /switch"}` + "\n"))
		return
	}
	if err := p.setImpaired(parts[1], parts[2] == "impair"); err != nil {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"region": parts[1], "impaired": parts[2] == "impair"})
}

// close stops the ARC endpoints.
func (p *pairStack) close() {
	if p == nil {
		return
	}
	for _, ep := range p.arcEPs {
		_ = ep.Close()
	}
}

// pairKeyFile writes the key file of a site of the pair: its region's
// private key and its partner's (a site of a pair opens both regions'
// orders), mode 0600, rewritten at every start.
func pairKeyFile(dir, region string, keys map[string]siteKey, partner string) (string, error) {
	var data []byte
	for _, r := range []string{region, partner} {
		k, ok := keys[r]
		if !ok {
			return "", fmt.Errorf("no site key for %s", r)
		}
		b, err := os.ReadFile(k.file)
		if err != nil {
			return "", fmt.Errorf("site key of %s: %w", r, err)
		}
		data = append(data, b...)
	}
	path := filepath.Join(dir, "keys", region, "site-pair.key")
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", fmt.Errorf("pair key file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("pair key file: %w", err)
	}
	return path, nil
}

// addCognito registers region's Cognito endpoint, which setImpaired takes
// down.
func (p *pairStack) addCognito(region string, ep *cognitolocal.Endpoint) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cognito[region] = ep
}

// serveRecords serves the failover record pair of each paired region's API
// name and returns one "name\tdescription" line per record.
func (p *pairStack) serveRecords(g *errgroup.Group, runtimes []*regionRuntime, serve func(*errgroup.Group, string, http.Handler) (string, error)) ([]string, error) {
	by := map[string]*regionRuntime{}
	for _, rt := range runtimes {
		if rt.region != nil {
			by[rt.region.Region] = rt
		}
	}
	var lines []string
	for _, r := range p.regions {
		home, part := by[r], by[p.partner(r)]
		if home == nil || part == nil || part.pairURL == "" {
			return nil, fmt.Errorf("the pair's regions %s and %s are not both running", r, p.partner(r))
		}
		rec, err := p.record(r, home.ordersURL, part.pairURL)
		if err != nil {
			return nil, err
		}
		if home.trafficURL, err = serve(g, r+" api name", rec); err != nil {
			return nil, err
		}
		home.routingControl = p.controls[r]
		lines = append(lines, fmt.Sprintf("%s api name\t%s  -> %s orders api (routing control On), else %s pair http api", r, home.trafficURL, r, p.partner(r)))
	}
	return lines, nil
}
