// Package arclocal is a fake Route 53 ARC cluster for tests and the local
// stack: the data-plane API of a cluster's regional endpoints (AWS JSON 1.0,
// X-Amz-Target "ToggleCustomerAPI.<operation>", as the SDK and package
// arcops send it) over routing controls held in memory.
//
// One Cluster holds the routing controls' states, the assertion safety rules
// and a log of every state change; Cluster.Start serves one regional endpoint
// of it, and several endpoints of one cluster share its state, as a real
// cluster's five endpoints do. Operations: GetRoutingControlState,
// UpdateRoutingControlState, UpdateRoutingControlStates (all entries or
// none) and ListRoutingControls (one page). A request must be SigV4 signed
// for the service route53-recovery-cluster in the endpoint's region (the
// signature itself is not verified).
//
// An assertion rule (at least AtLeast of Controls On) makes an update that
// would break it fail with ConflictException (HTTP 409) and change nothing,
// unless the request names the rule in SafetyRulesToOverride.
package arclocal

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// State is a routing control's state ("On" or "Off").
type State string

// The routing control states.
const (
	On  State = "On"
	Off State = "Off"
)

// AssertionRule is an ARC assertion safety rule: at least AtLeast of
// Controls (routing control ARNs) must be On after every update.
type AssertionRule struct {
	// ARN names the rule (SafetyRulesToOverride).
	ARN      string
	Controls []string
	AtLeast  int
}

// Change is one state change the cluster applied.
type Change struct {
	ARN      string
	From, To State
	// Endpoint is the region of the endpoint that applied it ("" for Set).
	Endpoint string
	At       time.Time
}

type control struct {
	name, panel string
	state       State
}

// Cluster is the shared state of a fake cluster. The zero value is not
// usable: build it with New.
type Cluster struct {
	mu       sync.Mutex
	controls map[string]*control
	order    []string
	rules    []AssertionRule
	changes  []Change
	requests map[string]int
}

// New returns an empty cluster.
func New() *Cluster {
	return &Cluster{controls: map[string]*control{}, requests: map[string]int{}}
}

// AddRoutingControl creates routing control arn (named name, in control
// panel panelARN) in state st.
func (c *Cluster) AddRoutingControl(arn, name, panelARN string, st State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.controls[arn]; !ok {
		c.order = append(c.order, arn)
	}
	c.controls[arn] = &control{name: name, panel: panelARN, state: st}
}

// AddAssertionRule adds a safety rule.
func (c *Cluster) AddAssertionRule(r AssertionRule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = append(c.rules, r)
}

// State returns routing control arn's state ("" when unknown).
func (c *Cluster) State(arn string) State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.controls[arn]; ok {
		return rc.state
	}
	return ""
}

// Set changes a state as an operator would, bypassing the safety rules; the
// change is logged with an empty Endpoint.
func (c *Cluster) Set(arn string, st State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.controls[arn]; ok && rc.state != st {
		c.changes = append(c.changes, Change{ARN: arn, From: rc.state, To: st, At: time.Now()})
		rc.state = st
	}
}

// Changes returns the log of state changes, oldest first.
func (c *Cluster) Changes() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes)
}

// Sequence returns the states routing control arn went through: its first
// state before the logged changes, then each change's new state.
func (c *Cluster) Sequence(arn string) []State {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seq []State
	for _, ch := range c.changes {
		if ch.ARN != arn {
			continue
		}
		if seq == nil {
			seq = append(seq, ch.From)
		}
		seq = append(seq, ch.To)
	}
	if seq == nil {
		if rc, ok := c.controls[arn]; ok {
			seq = []State{rc.state}
		}
	}
	return seq
}

// Requests returns how many requests of operation op endpoint region
// answered (any outcome).
func (c *Cluster) Requests(region, op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[region+"/"+op]
}

// Endpoint is one running regional endpoint of a cluster.
type Endpoint struct {
	// Region is the endpoint's region.
	Region string
	// URL is its base URL (http://127.0.0.1:port/v1).
	URL string
	srv *http.Server
	ln  net.Listener
}

// Close stops the endpoint.
func (e *Endpoint) Close() error { return e.srv.Close() }

// Start serves an endpoint of c for region on 127.0.0.1:<free port>.
func (c *Cluster) Start(region string) (*Endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("arclocal: listen: %w", err)
	}
	e := &Endpoint{Region: region, URL: "http://" + ln.Addr().String() + "/v1", ln: ln}
	e.srv = &http.Server{Handler: c.Handler(region), ReadHeaderTimeout: 5 * time.Second}
	go e.srv.Serve(ln)
	return e, nil
}

// Handler returns the HTTP handler of c's endpoint in region.
func (c *Cluster) Handler(region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		op, ok := strings.CutPrefix(target, "ToggleCustomerAPI.")
		if r.Method != http.MethodPost || !ok {
			writeErr(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+target)
			return
		}
		c.mu.Lock()
		c.requests[region+"/"+op]++
		c.mu.Unlock()
		if msg := checkScope(r.Header.Get("Authorization"), region); msg != "" {
			writeErr(w, http.StatusForbidden, "InvalidSignatureException", msg)
			return
		}
		var in struct {
			RoutingControlArn                string
			RoutingControlState              State
			SafetyRulesToOverride            []string
			UpdateRoutingControlStateEntries []struct {
				RoutingControlArn   string
				RoutingControlState State
			}
			ControlPanelArn string
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeErr(w, http.StatusBadRequest, "SerializationException", "body is not JSON: "+err.Error())
			return
		}
		switch op {
		case "GetRoutingControlState":
			c.get(w, in.RoutingControlArn)
		case "UpdateRoutingControlState":
			c.update(w, region, map[string]State{in.RoutingControlArn: in.RoutingControlState}, in.SafetyRulesToOverride)
		case "UpdateRoutingControlStates":
			want := map[string]State{}
			for _, e := range in.UpdateRoutingControlStateEntries {
				want[e.RoutingControlArn] = e.RoutingControlState
			}
			c.update(w, region, want, in.SafetyRulesToOverride)
		case "ListRoutingControls":
			c.list(w, in.ControlPanelArn)
		default:
			writeErr(w, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+target)
		}
	})
}

// checkScope checks that the request is SigV4 signed for the cluster's
// service in region; it returns what is wrong ("" when nothing).
func checkScope(auth, region string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !ok {
		return "request is not SigV4 signed"
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/") // key/date/region/service/aws4_request
	if len(parts) != 5 || parts[2] != region || parts[3] != "route53-recovery-cluster" {
		return fmt.Sprintf("credential scope %q is not for route53-recovery-cluster in %s", cred, region)
	}
	return ""
}

func (c *Cluster) get(w http.ResponseWriter, arn string) {
	c.mu.Lock()
	rc, ok := c.controls[arn]
	var out map[string]any
	if ok {
		out = map[string]any{"RoutingControlArn": arn, "RoutingControlName": rc.name, "RoutingControlState": rc.state}
	}
	c.mu.Unlock()
	if !ok {
		writeNotFound(w, arn)
		return
	}
	writeJSON(w, out)
}

func (c *Cluster) update(w http.ResponseWriter, region string, want map[string]State, override []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for arn, st := range want {
		if _, ok := c.controls[arn]; !ok {
			writeNotFound(w, arn)
			return
		}
		if st != On && st != Off {
			writeErr(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("RoutingControlState %q is not On or Off", st))
			return
		}
	}
	after := func(arn string) State {
		if st, ok := want[arn]; ok {
			return st
		}
		return c.controls[arn].state
	}
	for _, rule := range c.rules {
		if slices.Contains(override, rule.ARN) {
			continue
		}
		on := 0
		for _, arn := range rule.Controls {
			if after(arn) == On {
				on++
			}
		}
		if on < rule.AtLeast {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(map[string]any{"__type": "ConflictException",
				"message":    fmt.Sprintf("Cannot update routing control states: the update would violate safety rule %s (at least %d of %d routing controls On)", rule.ARN, rule.AtLeast, len(rule.Controls)),
				"resourceId": rule.ARN, "resourceType": "SafetyRule"})
			return
		}
	}
	arns := make([]string, 0, len(want))
	for arn := range want {
		arns = append(arns, arn)
	}
	slices.Sort(arns)
	now := time.Now()
	for _, arn := range arns {
		rc := c.controls[arn]
		if rc.state != want[arn] {
			c.changes = append(c.changes, Change{ARN: arn, From: rc.state, To: want[arn], Endpoint: region, At: now})
			rc.state = want[arn]
		}
	}
	writeJSON(w, map[string]any{})
}

func (c *Cluster) list(w http.ResponseWriter, panel string) {
	c.mu.Lock()
	var rcs []map[string]any
	for _, arn := range c.order {
		rc := c.controls[arn]
		if panel != "" && rc.panel != panel {
			continue
		}
		rcs = append(rcs, map[string]any{"ControlPanelArn": rc.panel, "RoutingControlArn": arn,
			"RoutingControlName": rc.name, "RoutingControlState": rc.state})
	}
	c.mu.Unlock()
	writeJSON(w, map[string]any{"RoutingControls": rcs})
}

func writeNotFound(w http.ResponseWriter, arn string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]any{"__type": "ResourceNotFoundException",
		"message": "routing control " + arn + " not found", "resourceId": arn, "resourceType": "RoutingControl"})
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(v)
}
