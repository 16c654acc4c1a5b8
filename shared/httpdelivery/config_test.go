package httpdelivery_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/homeregion/homeregion/shared/httpdelivery"
)

func TestParseEnv(t *testing.T) {
	const url = "http://127.0.0.1:8080/orders"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		off     bool   // delivery disabled, no error
		wantErr string // the whole error, or a prefix of it ending in ':'
		want    httpdelivery.Config
	}{
		{name: "unset: disabled", env: nil, off: true},
		{name: "blank: disabled", env: map[string]string{"DELIVERY_URL": "  "}, off: true},
		{name: "tunable without URL", env: map[string]string{"DELIVERY_TIMEOUT": "1s"}, wantErr: "DELIVERY_TIMEOUT is set but DELIVERY_URL is not"},
		{name: "attempts without URL", env: map[string]string{"DELIVERY_ATTEMPTS": "3"}, wantErr: "DELIVERY_ATTEMPTS is set but DELIVERY_URL is not"},
		{name: "defaults filled in", env: map[string]string{"DELIVERY_URL": url},
			want: httpdelivery.Config{URL: url, Timeout: 10 * time.Second, Attempts: 5, Backoff: 200 * time.Millisecond}},
		{name: "values", env: map[string]string{"DELIVERY_URL": " https://fulfil.site.internal/v1/orders?x=1 ", "DELIVERY_TIMEOUT": "2s500ms", "DELIVERY_ATTEMPTS": "7", "DELIVERY_BACKOFF": "1s"},
			want: httpdelivery.Config{URL: "https://fulfil.site.internal/v1/orders?x=1", Timeout: 2500 * time.Millisecond, Attempts: 7, Backoff: time.Second}},
		{name: "userinfo kept for basic auth", env: map[string]string{"DELIVERY_URL": "http://svc:s3cret@10.0.0.5:9000/in"},
			want: httpdelivery.Config{URL: "http://svc:s3cret@10.0.0.5:9000/in", Timeout: 10 * time.Second, Attempts: 5, Backoff: 200 * time.Millisecond}},
		{name: "lowest bounds", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "100ms", "DELIVERY_ATTEMPTS": "1", "DELIVERY_BACKOFF": "10ms"},
			want: httpdelivery.Config{URL: url, Timeout: 100 * time.Millisecond, Attempts: 1, Backoff: 10 * time.Millisecond}},
		{name: "highest bounds", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "5m", "DELIVERY_ATTEMPTS": "20", "DELIVERY_BACKOFF": "1m"},
			want: httpdelivery.Config{URL: url, Timeout: 5 * time.Minute, Attempts: 20, Backoff: time.Minute}},

		{name: "timeout malformed", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "3x"}, wantErr: `DELIVERY_TIMEOUT "3x": want a duration between 100ms and 5m0s`},
		{name: "timeout unitless", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "10"}, wantErr: `DELIVERY_TIMEOUT "10": want a duration between 100ms and 5m0s`},
		{name: "timeout too short", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "99ms"}, wantErr: `DELIVERY_TIMEOUT "99ms": want a duration between 100ms and 5m0s`},
		{name: "timeout too long", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "5m1s"}, wantErr: `DELIVERY_TIMEOUT "5m1s": want a duration between 100ms and 5m0s`},
		{name: "timeout negative", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_TIMEOUT": "-1s"}, wantErr: `DELIVERY_TIMEOUT "-1s": want a duration between 100ms and 5m0s`},
		{name: "attempts zero", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_ATTEMPTS": "0"}, wantErr: `DELIVERY_ATTEMPTS "0": want an integer 1..20`},
		{name: "attempts too many", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_ATTEMPTS": "21"}, wantErr: `DELIVERY_ATTEMPTS "21": want an integer 1..20`},
		{name: "attempts malformed", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_ATTEMPTS": "five"}, wantErr: `DELIVERY_ATTEMPTS "five": want an integer 1..20`},
		{name: "attempts fractional", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_ATTEMPTS": "2.5"}, wantErr: `DELIVERY_ATTEMPTS "2.5": want an integer 1..20`},
		{name: "backoff too short", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_BACKOFF": "9ms"}, wantErr: `DELIVERY_BACKOFF "9ms": want a duration between 10ms and 1m0s`},
		{name: "backoff too long", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_BACKOFF": "61s"}, wantErr: `DELIVERY_BACKOFF "61s": want a duration between 10ms and 1m0s`},
		{name: "backoff malformed", env: map[string]string{"DELIVERY_URL": url, "DELIVERY_BACKOFF": "soon"}, wantErr: `DELIVERY_BACKOFF "soon": want a duration between 10ms and 1m0s`},

		{name: "URL other scheme", env: map[string]string{"DELIVERY_URL": "ftp://host/in"}, wantErr: `DELIVERY_URL "ftp://host/in": want an absolute http:// or https:// URL with a host`},
		{name: "URL relative", env: map[string]string{"DELIVERY_URL": "/orders"}, wantErr: `DELIVERY_URL "/orders": want an absolute`},
		{name: "URL host:port only", env: map[string]string{"DELIVERY_URL": "localhost:8080"}, wantErr: `DELIVERY_URL is not a URL: want an absolute`},
		{name: "URL no host", env: map[string]string{"DELIVERY_URL": "http:///orders"}, wantErr: `DELIVERY_URL "http:///orders": want an absolute`},
		{name: "URL port only", env: map[string]string{"DELIVERY_URL": "http://:8080/orders"}, wantErr: `DELIVERY_URL "http://:8080/orders": want an absolute`},
		{name: "URL opaque", env: map[string]string{"DELIVERY_URL": "http:host/orders"}, wantErr: `DELIVERY_URL is not a URL: want an absolute`},
		{name: "URL fragment", env: map[string]string{"DELIVERY_URL": "http://host/orders#x"}, wantErr: `DELIVERY_URL "http://host/orders#...": want an absolute`},
		{name: "URL unparseable", env: map[string]string{"DELIVERY_URL": "http://ho st/"}, wantErr: `DELIVERY_URL is not a URL: want an absolute`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, on, err := httpdelivery.ParseEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if on {
					t.Fatal("enabled despite the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if on == tc.off {
				t.Fatalf("enabled = %v, want %v", on, !tc.off)
			}
			if c != tc.want {
				t.Fatalf("config = %+v, want %+v", c, tc.want)
			}
		})
	}
}

// TestSecretsNeverEchoed checks that no error and no log of the Config
// shows a URL's userinfo or query, whether the URL parses or not.
func TestSecretsNeverEchoed(t *testing.T) {
	for _, v := range []string{
		"ftp://svc:s3cret@host/in",             // parses, wrong scheme
		"http://svc:s3cret@/in",                // parses, no host
		"http://svc:s3cret@ho st/in",           // does not parse
		"http://svc:s3%zzcret@host/in",         // bad escape in the password
		"gopher://host/in?token=s3cret",        // a secret in the query
		"http://svc:s3cret@host/in#frag",       // fragment
		"svc:s3cret@host:8080",                 // no scheme
		"https://s3cret@host:8080/in#?s3cret=", // user only
	} {
		_, _, err := httpdelivery.ParseEnv(func(k string) string {
			if k == "DELIVERY_URL" {
				return v
			}
			return ""
		})
		if err == nil {
			t.Errorf("%q accepted", v)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "svc") {
			t.Errorf("%q: error echoes the secret: %v", v, err)
		}
		_, err = httpdelivery.New(httpdelivery.Config{URL: v}, nil, nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "svc") {
			t.Errorf("%q: New: %v", v, err)
		}
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("delivery", "config",
		httpdelivery.Config{URL: "https://svc:s3cret@host:8443/in?token=s3cret", Timeout: time.Second, Attempts: 3, Backoff: time.Second})
	if out := buf.String(); strings.Contains(out, "s3cret") || strings.Contains(out, "svc") || !strings.Contains(out, `"url":"https://host:8443/in?..."`) {
		t.Errorf("logged config: %s", out)
	}
}

func TestNewChecksConfig(t *testing.T) {
	const url = "http://127.0.0.1:1/in"
	for _, tc := range []struct {
		name    string
		cfg     httpdelivery.Config
		wantErr string
	}{
		{name: "zero tunables take defaults", cfg: httpdelivery.Config{URL: url}},
		{name: "no URL", cfg: httpdelivery.Config{}, wantErr: "no delivery URL"},
		{name: "bad URL", cfg: httpdelivery.Config{URL: "file:///etc/passwd"}, wantErr: "delivery URL"},
		{name: "timeout", cfg: httpdelivery.Config{URL: url, Timeout: time.Millisecond}, wantErr: "timeout 1ms: want a duration between 100ms and 5m0s"},
		{name: "attempts", cfg: httpdelivery.Config{URL: url, Attempts: 21}, wantErr: "attempts 21: want an integer 1..20"},
		{name: "negative attempts", cfg: httpdelivery.Config{URL: url, Attempts: -1}, wantErr: "attempts -1"},
		{name: "backoff", cfg: httpdelivery.Config{URL: url, Backoff: 2 * time.Minute}, wantErr: "backoff 2m0s: want a duration between 10ms and 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := httpdelivery.New(tc.cfg, nil, nil)
			if tc.wantErr == "" {
				if err != nil || d == nil {
					t.Fatalf("New = %v, %v", d, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}
