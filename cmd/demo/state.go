package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// stackState is the part of cmd/local's state file (JSON, written just before
// it prints "ready", removed on exit) the walk-through reads. The field names
// are cmd/local's State JSON tags.
type stackState struct {
	Version        int           `json:"version"`
	PID            int           `json:"pid"`
	MotoURL        string        `json:"motoUrl"`
	RegistryRegion string        `json:"registryRegion"`
	Regions        []regionState `json:"regions"`
}

type regionState struct {
	Region         string       `json:"region"`
	CognitoURL     string       `json:"cognitoUrl"`
	OrdersAPIURL   string       `json:"ordersApiUrl"`
	UserPoolID     string       `json:"userPoolId"`
	ClientID       string       `json:"clientId"`
	OrdersTable    string       `json:"ordersTable"`
	OrdersQueueURL string       `json:"ordersQueueUrl"`
	EcsCluster     string       `json:"ecsCluster"`
	PrimaryService string       `json:"primaryService"`
	StandbyCluster string       `json:"standbyCluster"`
	StandbyService string       `json:"standbyService"`
	Alarms         []alarmState `json:"alarms"`
}

type alarmState struct {
	Name   string `json:"name"`
	Action string `json:"action"`
}

// errNoStack reports that no state file names a live cmd/local.
var errNoStack = errors.New("no running stack")

// loadState reads path; a missing file, or one whose PID is not alive
// (a stack that was killed), is errNoStack.
func loadState(path string) (*stackState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoStack
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var s stackState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("state file %s: version %d, want 1", path, s.Version)
	}
	if s.PID <= 0 || !alive(s.PID) {
		return nil, fmt.Errorf("%w (state file %s is stale: pid %d is gone)", errNoStack, path, s.PID)
	}
	if s.MotoURL == "" || len(s.Regions) == 0 {
		return nil, fmt.Errorf("state file %s: no moto URL or no regions", path)
	}
	return &s, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// region returns the named region, or nil.
func (s *stackState) region(name string) *regionState {
	for i := range s.Regions {
		if s.Regions[i].Region == name {
			return &s.Regions[i]
		}
	}
	return nil
}

// alarmFor returns the name of r's alarm whose action is action, preferring
// one whose name contains prefer (e.g. "stalled": the primary site's
// heartbeat rather than the queue-age alarm), else the first.
func (r *regionState) alarmFor(action, prefer string) string {
	first := ""
	for _, a := range r.Alarms {
		if a.Action != action {
			continue
		}
		if prefer != "" && strings.Contains(strings.ToLower(a.Name), prefer) {
			return a.Name
		}
		if first == "" {
			first = a.Name
		}
	}
	return first
}
