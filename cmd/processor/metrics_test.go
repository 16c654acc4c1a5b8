package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/awsconfig/cwquery"
	"github.com/homeregion/homeregion/shared/processor"
)

// TestMetricsReachLocalCloudWatch runs the standalone binary against moto
// (AWS_ENDPOINT_URL set): its Heartbeat and OrdersProcessed metrics must
// land in moto's CloudWatch, which serves only the query protocol.
func TestMetricsReachLocalCloudWatch(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	f := processortest.New(t, srv.Config("eu-west-1"), 100)
	ids := processortest.IDs("metrics", 3)
	dsn, table := orderstoretest.NewSite(t, "sqlite")
	f.Seed(t, ids)
	site := "metrics-site-" + time.Now().Format("150405.000")
	p := processortest.Start(t, bin, srv.URL, f, dsn, []string{"SITE_NAME=" + site, "HEARTBEAT_INTERVAL=1s"})
	processortest.WaitFor(t, time.Minute, "3 rows", func() bool { return rows(t, table) >= 3 })
	time.Sleep(1500 * time.Millisecond) // one more heartbeat tick
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status = %d\n%s", code, p.Output())
	}
	if out := p.Output(); strings.Contains(out, "put metrics failed") {
		t.Fatalf("the processor could not put its metrics:\n%s", out)
	}
	cw := cloudwatch.NewFromConfig(srv.Config("eu-west-1"), cwquery.Protocol)
	for _, name := range []string{processor.MetricHeartbeat, processor.MetricOrdersProcessed} {
		out, err := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{
			Namespace: aws.String(processor.MetricNamespace), MetricName: aws.String(name),
			Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("Site"), Value: aws.String(site)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Metrics) == 0 {
			t.Errorf("no %s metric for site %s in moto's CloudWatch", name, site)
		}
	}
}
