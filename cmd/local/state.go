package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/homeregion/homeregion/internal/provision"
)

// State is the JSON state file tools such as cmd/demo read to find a
// running stack. It is written just before "ready" is printed and removed
// on exit; a file whose PID is not alive is stale.
type State struct {
	Version        int           `json:"version"`
	PID            int           `json:"pid"`
	MotoURL        string        `json:"motoUrl"`
	RegistryRegion string        `json:"registryRegion"`
	StartedAt      time.Time     `json:"startedAt"`
	Regions        []RegionState `json:"regions"`
}

// RegionState is one local region: its endpoints and resources.
type RegionState struct {
	Region         string       `json:"region"`
	CognitoURL     string       `json:"cognitoUrl"`
	OrdersAPIURL   string       `json:"ordersApiUrl"`
	UserPoolID     string       `json:"userPoolId"`
	ClientID       string       `json:"clientId"`
	RegistryTable  string       `json:"registryTable"`
	OrdersTable    string       `json:"ordersTable"`
	ControlTable   string       `json:"controlTable"`
	OrdersQueueURL string       `json:"ordersQueueUrl"`
	OrdersDLQURL   string       `json:"ordersDlqUrl"`
	PiiKeyID       string       `json:"piiKeyId"`
	EcsCluster     string       `json:"ecsCluster,omitempty"`
	PrimaryService string       `json:"primaryService,omitempty"`
	StandbyCluster string       `json:"standbyCluster,omitempty"`
	StandbyService string       `json:"standbyService,omitempty"`
	HealthCheckID  string       `json:"healthCheckId,omitempty"`
	Alarms         []AlarmState `json:"alarms"`
	SiteDB         string       `json:"siteDb"`
}

// AlarmState names an alarm and the action its transitions invoke.
type AlarmState struct {
	Name   string `json:"name"`
	Action string `json:"action,omitempty"`
}

func regionState(r *provision.Region, rt *regionRuntime) RegionState {
	s := RegionState{
		Region: r.Region, CognitoURL: rt.cognitoURL, OrdersAPIURL: rt.ordersURL,
		UserPoolID: r.UserPoolID, ClientID: r.ClientID,
		RegistryTable: r.RegistryTable, OrdersTable: r.OrdersTable, ControlTable: r.ControlTable,
		OrdersQueueURL: r.OrdersQueueURL, OrdersDLQURL: r.OrdersDLQURL, PiiKeyID: r.PiiKeyID,
		EcsCluster: r.EcsCluster, PrimaryService: r.PrimaryService, StandbyCluster: r.StandbyCluster,
		StandbyService: r.StandbyService, HealthCheckID: r.HealthCheckID, SiteDB: rt.siteDB,
		Alarms: []AlarmState{},
	}
	for _, a := range r.Alarms {
		s.Alarms = append(s.Alarms, AlarmState{Name: a.Name, Action: a.Action})
	}
	return s
}

// writeState writes s to path atomically (temp file + rename).
func writeState(path string, s State) error {
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

// runningStack returns the PID of another live cmd/local that owns the state
// file at path, or 0 (no file, unreadable, or a stale one).
func runningStack(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var s State
	if json.Unmarshal(b, &s) != nil || s.PID <= 0 || s.PID == os.Getpid() {
		return 0
	}
	if err := syscall.Kill(s.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return 0
	}
	return s.PID
}
