package processor_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
	"github.com/homeregion/homeregion/shared/processor"
)

// motoCloudWatch is a CloudWatch client moto 5.2 understands: the SDK
// speaks RPCv2 CBOR to CloudWatch by default, moto only the query protocol.
func motoCloudWatch(cfg aws.Config) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
		o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
	})
}

// TestMetricsOnMoto: the processor's Heartbeat and OrdersProcessed reach
// CloudWatch under namespace Homeregion/Processor with dimension Site.
func TestMetricsOnMoto(t *testing.T) {
	srv := mototest.Require(t)
	cfg := srv.Config("eu-west-1")
	f := processortest.New(t, cfg, 3)
	f.Seed(t, processortest.IDs("m", 5))
	cw := motoCloudWatch(cfg)
	site := "metrics-" + f.Table
	store := openStore(t, orderstoretest.SQLiteDSN(t))
	// A short visibility: a call that fails on a loaded machine is retried
	// within the wait below, not after the default minute.
	p, err := processor.New(processor.Config{QueueURL: f.QueueURL, OrdersTable: f.Table, Site: site, WaitTime: time.Second,
		VisibilityTimeout: 5 * time.Second},
		processor.Deps{SQS: f.SQS, DynamoDB: f.DynamoDB, CloudWatch: cw, Store: store, Keys: f.Keys})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	processortest.WaitFor(t, time.Minute, "5 processed", func() bool { return p.Stats().Processed == 5 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{processor.MetricHeartbeat, processor.MetricOrdersProcessed} {
		out, err := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{
			Namespace:  aws.String("Homeregion/Processor"),
			MetricName: aws.String(name),
			Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("Site"), Value: aws.String(site)}},
		})
		if err != nil {
			t.Fatalf("list %s: %v", name, err)
		}
		if len(out.Metrics) == 0 {
			t.Fatalf("metric %s with Site=%s not in CloudWatch", name, site)
		}
	}
	stat, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("Homeregion/Processor"), MetricName: aws.String(processor.MetricOrdersProcessed),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Site"), Value: aws.String(site)}},
		StartTime:  aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour)),
		Period: aws.Int32(3600), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
	})
	if err != nil {
		t.Fatalf("statistics: %v", err)
	}
	var sum float64
	for _, d := range stat.Datapoints {
		sum += aws.ToFloat64(d.Sum)
	}
	if sum != 5 {
		t.Fatalf("OrdersProcessed sum = %v, want 5", sum)
	}
}
