package faulttest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/homeregion/homeregion/internal/faultproxy"
	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/shared/awsconfig"
)

func TestMain(m *testing.M) { mototest.Main(m) }

const region = "eu-west-1"

var seq atomic.Int64

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

// proxy starts a fault proxy in front of srv, closed with the test.
func proxy(t *testing.T, srv *mototest.Server) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// via builds the aws.Config a function builds (awsconfig.Load with opts:
// bounded retries and timeouts), pointed at the proxy.
func via(t *testing.T, p *faultproxy.Proxy, opts awsconfig.Options) aws.Config {
	t.Helper()
	cfg, err := awsconfig.Load(context.Background(), region, os.Getenv, opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(p.URL())
	return cfg
}

// fmtSscan parses an integer attribute ("" is 0).
func fmtSscan(s string, v *int) (int, error) {
	if s == "" {
		*v = 0
		return 0, nil
	}
	return fmt.Sscan(s, v)
}
