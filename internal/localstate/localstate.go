// Package localstate is the local stack's state file: the JSON file cmd/local
// writes just before it prints "ready" and removes on exit, and that tools
// such as cmd/demo read to find the running stack's endpoints and resources.
// A file whose PID is no longer alive is stale: the stack was killed.
package localstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Version is the state file format this package writes and reads.
const Version = 1

// ErrNoStack reports that no state file names a live local stack.
var ErrNoStack = errors.New("no running stack")

// State is the state file of a running local stack.
type State struct {
	Version        int       `json:"version"`
	PID            int       `json:"pid"`
	MotoURL        string    `json:"motoUrl"`
	RegistryRegion string    `json:"registryRegion"`
	StartedAt      time.Time `json:"startedAt"`
	Regions        []Region  `json:"regions"`
	// ControlURL is the control endpoint of a stack with a zone pair
	// (POST /regions/{region}/impair|restore, GET /switch); "" without one.
	ControlURL string `json:"controlUrl,omitempty"`
}

// Region is one local region: its endpoints and resources.
type Region struct {
	Region        string `json:"region"`
	CognitoURL    string `json:"cognitoUrl"`
	OrdersAPIURL  string `json:"ordersApiUrl"`
	UserPoolID    string `json:"userPoolId"`
	ClientID      string `json:"clientId"`
	RegistryTable string `json:"registryTable"`
	OrdersTable   string `json:"ordersTable"`
	// OrdersTableRegion is where OrdersTable is reached locally when it is
	// not Region: a zone pair's table is one moto table in its table region.
	OrdersTableRegion string  `json:"ordersTableRegion,omitempty"`
	ControlTable      string  `json:"controlTable"`
	OrdersQueueURL    string  `json:"ordersQueueUrl"`
	OrdersDLQURL      string  `json:"ordersDlqUrl"`
	PiiKeyID          string  `json:"piiKeyId"`
	EcsCluster        string  `json:"ecsCluster,omitempty"`
	PrimaryService    string  `json:"primaryService,omitempty"`
	StandbyCluster    string  `json:"standbyCluster,omitempty"`
	StandbyService    string  `json:"standbyService,omitempty"`
	HealthCheckID     string  `json:"healthCheckId,omitempty"`
	Alarms            []Alarm `json:"alarms"`
	SiteDB            string  `json:"siteDb"`
	// SiteKeyFile is the site's private key file (the processor's
	// SITE_KEY_FILE); SitePublicKey its public key, the orders API's
	// SITE_PUBLIC_KEY (base64url), whose key id sealed messages carry.
	SiteKeyFile   string `json:"siteKeyFile,omitempty"`
	SitePublicKey string `json:"sitePublicKey,omitempty"`
	// Partner is the region's zone-pair partner ("" unpaired); PairAPIURL
	// its PairHttpApi (the partner's users); TrafficURL its API name, the
	// failover record pair that answers with OrdersAPIURL or, failed over,
	// the partner's PairAPIURL; RoutingControlARN that record's switch.
	Partner           string `json:"partner,omitempty"`
	PairAPIURL        string `json:"pairApiUrl,omitempty"`
	TrafficURL        string `json:"trafficUrl,omitempty"`
	RoutingControlARN string `json:"routingControlArn,omitempty"`
}

// Alarm names an alarm and the action its transitions invoke.
type Alarm struct {
	Name   string `json:"name"`
	Action string `json:"action,omitempty"`
}

// Write writes s to path atomically (temporary file, then rename), creating
// path's directory when missing.
func Write(path string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// Load reads the state file at path of a live stack. A missing file, or one
// whose PID is not alive, is ErrNoStack; a file of another Version, or
// without a moto URL or regions, is an error.
func Load(path string) (*State, error) {
	s, err := read(path)
	if err != nil {
		return nil, err
	}
	if s.Version != Version {
		return nil, fmt.Errorf("state file %s: version %d, want %d", path, s.Version, Version)
	}
	if s.PID <= 0 || !alive(s.PID) {
		return nil, fmt.Errorf("%w (state file %s is stale: pid %d is gone)", ErrNoStack, path, s.PID)
	}
	if s.MotoURL == "" || len(s.Regions) == 0 {
		return nil, fmt.Errorf("state file %s: no moto URL or no regions", path)
	}
	return s, nil
}

// Running returns the PID of another live process that owns the state file
// at path, or 0 (no file, an unreadable or stale one, or this process's), so
// a second stack does not overwrite a running one's file.
func Running(path string) int {
	s, err := read(path)
	if err != nil || s.PID <= 0 || s.PID == os.Getpid() || !alive(s.PID) {
		return 0
	}
	return s.PID
}

// read decodes the state file at path; a missing file is ErrNoStack.
func read(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoStack
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &s, nil
}

// alive reports whether a process with id pid exists (EPERM: it exists but
// belongs to another user).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Region returns the named region, or nil.
func (s *State) Region(name string) *Region {
	for i := range s.Regions {
		if s.Regions[i].Region == name {
			return &s.Regions[i]
		}
	}
	return nil
}

// AlarmFor returns the name of r's alarm whose action is action, preferring
// one whose name contains prefer, case-insensitively (e.g. "stalled": the
// primary site's heartbeat rather than the queue-age alarm), else the first;
// "" when r has none.
func (r *Region) AlarmFor(action, prefer string) string {
	first := ""
	for _, a := range r.Alarms {
		if a.Action != action {
			continue
		}
		if prefer != "" && strings.Contains(strings.ToLower(a.Name), strings.ToLower(prefer)) {
			return a.Name
		}
		if first == "" {
			first = a.Name
		}
	}
	return first
}
