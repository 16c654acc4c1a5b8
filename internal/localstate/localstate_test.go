package localstate_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/localstate"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stack.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	live := fmt.Sprintf(`{"version":1,"pid":%d,"motoUrl":"http://127.0.0.1:1","registryRegion":"eu-west-1",
	  "regions":[{"region":"eu-west-1","alarms":[{"name":"q","action":"scale"},{"name":"age","action":"promote"},{"name":"PrimarySiteStalled","action":"promote"}]},{"region":"us-east-1"}]}`, os.Getpid())
	tests := []struct {
		name    string
		path    string
		noStack bool
		err     string
	}{
		{"live", writeFile(t, live), false, ""},
		{"missing file", filepath.Join(t.TempDir(), "none.json"), true, ""},
		{"stale pid", writeFile(t, `{"version":1,"pid":999999999,"motoUrl":"x","regions":[{"region":"a"}]}`), true, "stale"},
		{"bad json", writeFile(t, `{`), false, "state file"},
		{"bad version", writeFile(t, `{"version":2}`), false, "version 2"},
		{"no regions", writeFile(t, fmt.Sprintf(`{"version":1,"pid":%d,"motoUrl":"x"}`, os.Getpid())), false, "no regions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := localstate.Load(tt.path)
			if tt.noStack != errors.Is(err, localstate.ErrNoStack) {
				t.Fatalf("err = %v, want ErrNoStack %v", err, tt.noStack)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if tt.noStack {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eu := st.Region("eu-west-1")
			if eu == nil || eu.AlarmFor("promote", "stalled") != "PrimarySiteStalled" || eu.AlarmFor("promote", "Stalled") != "PrimarySiteStalled" || eu.AlarmFor("promote", "") != "age" ||
				eu.AlarmFor("scale", "backlog") != "q" || eu.AlarmFor("failover", "") != "" || st.Region("ap-south-1") != nil {
				t.Fatalf("state = %+v", st)
			}
		})
	}
}

// TestWriteLoad: what cmd/local writes is what cmd/demo reads, field for field.
func TestWriteLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "stack.json")
	want := localstate.State{Version: localstate.Version, PID: os.Getpid(), MotoURL: "http://127.0.0.1:5000", RegistryRegion: "eu-west-1",
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Regions: []localstate.Region{{Region: "eu-west-1", CognitoURL: "http://127.0.0.1:1", OrdersAPIURL: "http://127.0.0.1:2",
			UserPoolID: "pool", ClientID: "client", RegistryTable: "registry", OrdersTable: "orders", ControlTable: "control",
			OrdersQueueURL: "http://q/orders", OrdersDLQURL: "http://q/dlq", PiiKeyID: "key", EcsCluster: "c", PrimaryService: "p",
			StandbyCluster: "sc", StandbyService: "ss", HealthCheckID: "hc", Alarms: []localstate.Alarm{{Name: "a", Action: "promote"}},
			SiteDB: "site.db", SiteKeyFile: "keys/eu-west-1/site.key", SitePublicKey: "cHVi"}}}
	if err := localstate.Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := localstate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("Load = %+v\nwant   %+v", *got, want)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestRunning(t *testing.T) {
	dir := t.TempDir()
	write := func(pid int) string {
		p := filepath.Join(dir, fmt.Sprintf("s%d.json", pid))
		if err := localstate.Write(p, localstate.State{Version: localstate.Version, PID: pid}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	parent := os.Getppid() // alive, not us
	tests := []struct {
		name string
		path string
		want int
	}{
		{"no file", filepath.Join(dir, "none.json"), 0},
		{"live other process", write(parent), parent},
		{"ourselves", write(os.Getpid()), 0},
		{"stale pid", write(1 << 22), 0},
		{"garbage", writeFile(t, `{`), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localstate.Running(tt.path); got != tt.want {
				t.Errorf("Running = %d, want %d", got, tt.want)
			}
		})
	}
}
