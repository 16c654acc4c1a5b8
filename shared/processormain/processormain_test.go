package processormain

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/sealed"
)

// keyFile writes a new key file with mode perm and returns its path.
func keyFile(t *testing.T, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.key")
	if code := Keygen([]string{path}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("keygen = %d", code)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	key := keyFile(t, 0o600)
	tooOpen := keyFile(t, 0o644)
	malformed := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(malformed, []byte("homeregion-site-key-v1 c2VjcmV0LWJ5dGVz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/orders",
		"ORDERS_TABLE":     "orders",
		"SITE_NAME":        "berlin-1",
		"SITE_KEY_FILE":    key,
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(t *testing.T, c config)
	}{
		{name: "defaults", check: func(t *testing.T, c config) {
			if c.dsn != DefaultDSN || c.proc.Concurrency != 16 || c.proc.WaitTime != 20*time.Second ||
				c.proc.VisibilityTimeout != 60*time.Second || c.proc.DrainTimeout != 25*time.Second ||
				c.proc.HeartbeatInterval != time.Minute || c.proc.Site != "berlin-1" {
				t.Fatalf("defaults = %+v", c)
			}
		}},
		{name: "env values", env: map[string]string{"SITE_DB_DSN": "postgres://u@h/db", "PROCESSOR_CONCURRENCY": "4", "VISIBILITY_TIMEOUT": "2m", "WAIT_TIME": "5s"},
			check: func(t *testing.T, c config) {
				if c.dsn != "postgres://u@h/db" || c.proc.Concurrency != 4 || c.proc.VisibilityTimeout != 2*time.Minute || c.proc.WaitTime != 5*time.Second {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "flags override env", env: map[string]string{"PROCESSOR_CONCURRENCY": "4"}, args: []string{"-concurrency", "8", "-site", "munich", "-db", "/tmp/x.db"},
			check: func(t *testing.T, c config) {
				if c.proc.Concurrency != 8 || c.proc.Site != "munich" || c.dsn != "/tmp/x.db" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "zone pair by flags: two loops", env: map[string]string{"AWS_REGION": "eu-west-1"},
			args: []string{"-pair-region", "eu-central-1", "-pair-queue-url", "https://sqs.eu-central-1.amazonaws.com/1/orders"},
			check: func(t *testing.T, c config) {
				loops := c.proc.Loops()
				if c.proc.Pair.Partner != "eu-central-1" || len(loops) != 2 || loops[1].Region != "eu-central-1" ||
					loops[1].QueueURL != "https://sqs.eu-central-1.amazonaws.com/1/orders" || loops[0].Region != "eu-west-1" {
					t.Fatalf("pair %+v, loops %+v", c.proc.Pair, loops)
				}
			}},
		{name: "zone pair partner outside the zone", env: map[string]string{"AWS_REGION": "eu-west-1", "PAIR_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/orders"},
			args: []string{"-pair-region", "us-east-1"}, wantErr: "(from -pair-region)"},
		{name: "zone pair without the partner's queue", env: map[string]string{"AWS_REGION": "eu-west-1", "PAIR_REGION": "eu-central-1"}, wantErr: "PAIR_QUEUE_URL is not set"},
		{name: "missing queue", env: map[string]string{"ORDERS_QUEUE_URL": ""}, wantErr: "ORDERS_QUEUE_URL is not set"},
		{name: "missing table", env: map[string]string{"ORDERS_TABLE": ""}, wantErr: "ORDERS_TABLE is not set"},
		{name: "missing site", env: map[string]string{"SITE_NAME": ""}, wantErr: "SITE_NAME is not set"},
		{name: "flag stands in for a missing variable", env: map[string]string{"SITE_NAME": ""}, args: []string{"-site", "munich"},
			check: func(t *testing.T, c config) {
				if c.proc.Site != "munich" {
					t.Fatalf("config = %+v", c)
				}
			}},
		{name: "flag checked like its variable", args: []string{"-wait-time", "21s"}, wantErr: "(from -wait-time)"},
		{name: "bad concurrency", env: map[string]string{"PROCESSOR_CONCURRENCY": "lots"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "zero concurrency", args: []string{"-concurrency=0"}, wantErr: "PROCESSOR_CONCURRENCY"},
		{name: "fractional visibility", env: map[string]string{"VISIBILITY_TIMEOUT": "1500ms"}, wantErr: "VISIBILITY_TIMEOUT"},
		{name: "wait too long", env: map[string]string{"WAIT_TIME": "21s"}, wantErr: "WAIT_TIME"},
		{name: "bad drain", env: map[string]string{"DRAIN_TIMEOUT": "soon"}, wantErr: "DRAIN_TIMEOUT"},
		{name: "drain not positive", env: map[string]string{"DRAIN_TIMEOUT": "0s"}, wantErr: "DRAIN_TIMEOUT"},
		{name: "empty flag is not the default", args: []string{"-db", ""}, wantErr: "-db given an empty value"},
		{name: "bad heartbeat", env: map[string]string{"HEARTBEAT_INTERVAL": "0s"}, wantErr: "HEARTBEAT_INTERVAL"},
		{name: "tombstone days default", check: func(t *testing.T, c config) {
			if c.proc.ErasureTombstoneDays != 15 {
				t.Fatalf("tombstone days = %d, want 15", c.proc.ErasureTombstoneDays)
			}
		}},
		{name: "tombstone days flag over env", env: map[string]string{"ERASURE_TOMBSTONE_DAYS": "20"}, args: []string{"-erasure-tombstone-days", "30"},
			check: func(t *testing.T, c config) {
				if c.proc.ErasureTombstoneDays != 30 {
					t.Fatalf("tombstone days = %d, want 30", c.proc.ErasureTombstoneDays)
				}
			}},
		{name: "bad tombstone days", args: []string{"-erasure-tombstone-days", "0"}, wantErr: "ERASURE_TOMBSTONE_DAYS"},
		{name: "HTTP delivery on", env: map[string]string{"DELIVERY_URL": "http://127.0.0.1:8080/orders", "DELIVERY_ATTEMPTS": "3"},
			check: func(t *testing.T, c config) {
				if c.delivery == nil || c.delivery.URL != "http://127.0.0.1:8080/orders" || c.delivery.Attempts != 3 {
					t.Fatalf("delivery = %+v", c.delivery)
				}
			}},
		{name: "HTTP delivery off by default", check: func(t *testing.T, c config) {
			if c.delivery != nil {
				t.Fatalf("delivery = %+v, want off", c.delivery)
			}
		}},
		{name: "bad delivery timeout", env: map[string]string{"DELIVERY_URL": "http://127.0.0.1/x", "DELIVERY_TIMEOUT": "3x"}, wantErr: "DELIVERY_TIMEOUT"},
		{name: "delivery tuning without a URL", env: map[string]string{"DELIVERY_ATTEMPTS": "3"}, wantErr: "DELIVERY_URL"},
		{name: "keys read", check: func(t *testing.T, c config) {
			if c.keys == nil || len(c.keys.KeyIDs()) != 1 || c.proc.RefusePlaintext {
				t.Fatalf("config = %+v", c)
			}
		}},
		{name: "missing key file", env: map[string]string{"SITE_KEY_FILE": ""}, wantErr: "SITE_KEY_FILE is not set"},
		{name: "key file absent", env: map[string]string{"SITE_KEY_FILE": key + ".nope"}, wantErr: "SITE_KEY_FILE"},
		{name: "key file too open", env: map[string]string{"SITE_KEY_FILE": tooOpen}, wantErr: "SITE_KEY_FILE"},
		{name: "key file malformed", env: map[string]string{"SITE_KEY_FILE": malformed}, wantErr: "SITE_KEY_FILE"},
		{name: "key file flag", env: map[string]string{"SITE_KEY_FILE": ""}, args: []string{"-key-file", key},
			check: func(t *testing.T, c config) {
				if c.keys == nil {
					t.Fatal("no keys")
				}
			}},
		{name: "bad key file flag", args: []string{"-key-file", tooOpen}, wantErr: "(from -key-file)"},
		{name: "plaintext refused", env: map[string]string{"ACCEPT_PLAINTEXT_ORDERS": "false"}, check: func(t *testing.T, c config) {
			if !c.proc.RefusePlaintext {
				t.Fatalf("config = %+v", c)
			}
		}},
		{name: "plaintext not a bool", args: []string{"-accept-plaintext", "no"}, wantErr: "ACCEPT_PLAINTEXT_ORDERS"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flags"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := loadConfig(tc.args, func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestRunRejectsBadKeyFile: a key file that is missing, malformed or
// readable by others stops the processor with one log line naming
// SITE_KEY_FILE that never quotes the file's contents.
func TestRunRejectsBadKeyFile(t *testing.T) {
	secret := "c2VjcmV0LWJ5dGVz"
	malformed := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(malformed, []byte("homeregion-site-key-v1 "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tooOpen := keyFile(t, 0o640)
	for name, path := range map[string]string{"missing": "", "absent": malformed + ".nope", "malformed": malformed, "too open": tooOpen} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{
				"ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/1/orders",
				"ORDERS_TABLE":     "orders", "SITE_NAME": "berlin-1", "SITE_KEY_FILE": path,
			}
			var out strings.Builder
			if code := Run(nil, func(k string) string { return env[k] }, &out, Extension{}); code != 1 {
				t.Fatalf("exit status = %d, want 1", code)
			}
			if !strings.Contains(out.String(), "SITE_KEY_FILE") || strings.Count(out.String(), "\n") != 1 || strings.Contains(out.String(), secret) {
				t.Fatalf("want one log line naming SITE_KEY_FILE without key bytes, got %q", out.String())
			}
		})
	}
}

// TestKeygen: keygen writes a 0600 key file the processor reads and prints
// its public key as the only line on stdout; it refuses to overwrite a file
// and needs exactly one argument. Run dispatches to it.
func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.key")
	var stdout, stderr strings.Builder
	if code := Run([]string{"keygen", path}, func(string) string { return "" }, &stdout, Extension{}); code != 0 {
		t.Fatalf("keygen = %d; stderr %q", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout = %q, want one line", stdout.String())
	}
	pub, err := sealed.ParsePublicKey(lines[0])
	if err != nil {
		t.Fatalf("printed public key: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	keys, err := readKeys(path)
	if err != nil || len(keys.KeyIDs()) != 1 || keys.KeyIDs()[0] != pub.KeyID() {
		t.Fatalf("the key file does not hold the printed key: %v %v", keys, err)
	}
	before, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"refuses to overwrite", []string{path}, "refusing to overwrite"},
		{"no file", nil, "usage"},
		{"two files", []string{path + "1", path + "2"}, "usage"},
		{"a flag", []string{"-h"}, "usage"},
		{"missing directory", []string{filepath.Join(t.TempDir(), "no", "site.key")}, "create key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout.Reset()
			stderr.Reset()
			if code := Keygen(tc.args, &stdout, &stderr); code != 1 {
				t.Fatalf("keygen %v = %d, want 1", tc.args, code)
			}
			if stdout.Len() != 0 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stdout %q, stderr %q; want nothing and %q", stdout.String(), stderr.String(), tc.want)
			}
		})
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("keygen changed an existing key file")
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	var out strings.Builder
	code := Run(nil, func(string) string { return "" }, &out, Extension{})
	if code != 1 {
		t.Fatalf("exit status = %d, want 1", code)
	}
	if !strings.Contains(out.String(), "ORDERS_QUEUE_URL") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("want one log line naming the variable, got %q", out.String())
	}
}

// TestHelp: -h lists every flag with its variable and exits 0.
func TestHelp(t *testing.T) {
	var out strings.Builder
	if code := Run([]string{"-h"}, func(string) string { return "" }, &out, Extension{}); code != 0 {
		t.Fatalf("run -h = %d, want 0; output %q", code, out.String())
	}
	for _, f := range flagVars {
		if !strings.Contains(out.String(), "-"+f.flag) || !strings.Contains(out.String(), f.env) {
			t.Errorf("-h does not list -%s (%s): %q", f.flag, f.env, out.String())
		}
	}
	for _, sub := range []string{"keygen", "reconcile-erasures"} {
		if !strings.Contains(out.String(), "processor "+sub) {
			t.Errorf("-h does not list subcommand %s: %q", sub, out.String())
		}
	}
}

// TestReconcileErasuresConfig: the subcommand takes the processor's flags
// (-h lists them and exits 0) and refuses a bad configuration as the
// processor does, with one log line naming the variable.
func TestReconcileErasuresConfig(t *testing.T) {
	var out strings.Builder
	if code := Run([]string{"reconcile-erasures", "-h"}, func(string) string { return "" }, &out, Extension{}); code != 0 {
		t.Fatalf("reconcile-erasures -h = %d, want 0; output %q", code, out.String())
	}
	if !strings.Contains(out.String(), "usage: processor reconcile-erasures [flags]") || !strings.Contains(out.String(), "-orders-table") {
		t.Errorf("reconcile-erasures -h: %q", out.String())
	}
	out.Reset()
	if code := Run([]string{"reconcile-erasures"}, func(string) string { return "" }, &out, Extension{}); code != 1 {
		t.Fatalf("exit status = %d, want 1", code)
	}
	if !strings.Contains(out.String(), "processor reconcile-erasures: invalid configuration") ||
		!strings.Contains(out.String(), "ORDERS_QUEUE_URL") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("want one log line naming the variable, got %q", out.String())
	}
}
