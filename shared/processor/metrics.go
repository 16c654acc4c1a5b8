package processor

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// putTimeout bounds one PutMetricData call.
const putTimeout = 10 * time.Second

// metricsLoop puts a heartbeat at start and every HeartbeatInterval until
// stop closes, then puts the last OrdersProcessed count.
func (p *Processor) metricsLoop(ctx context.Context, stop <-chan struct{}) {
	if p.deps.CloudWatch == nil {
		p.log.Info("no CloudWatch client: heartbeat and OrdersProcessed metrics disabled")
		<-stop
		return
	}
	p.putMetrics(ctx, true)
	t := time.NewTicker(p.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.putMetrics(ctx, true)
		case <-stop:
			p.putMetrics(ctx, false)
			return
		}
	}
}

// putMetrics puts a heartbeat (when beat) and the orders processed since the
// last successful put; a failed put keeps the count for the next one.
func (p *Processor) putMetrics(ctx context.Context, beat bool) {
	n := p.unreported.Swap(0)
	if !beat && n == 0 {
		return
	}
	now := p.deps.Now()
	dims := []cwtypes.Dimension{{Name: aws.String(MetricDimensionSite), Value: aws.String(p.cfg.Site)}}
	data := []cwtypes.MetricDatum{{
		MetricName: aws.String(MetricOrdersProcessed),
		Dimensions: dims,
		Timestamp:  aws.Time(now),
		Unit:       cwtypes.StandardUnitCount,
		Value:      aws.Float64(float64(n)),
	}}
	if beat {
		data = append(data, cwtypes.MetricDatum{
			MetricName: aws.String(MetricHeartbeat),
			Dimensions: dims,
			Timestamp:  aws.Time(now),
			Unit:       cwtypes.StandardUnitCount,
			Value:      aws.Float64(1),
		})
	}
	ctx, cancel := context.WithTimeout(ctx, putTimeout)
	defer cancel()
	if _, err := p.deps.CloudWatch.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace:  aws.String(MetricNamespace),
		MetricData: data,
	}); err != nil {
		p.unreported.Add(n)
		p.log.Warn("put metrics failed", "err", err)
	}
}
