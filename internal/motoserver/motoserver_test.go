package motoserver_test

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/homeregion/homeregion/internal/motoserver"
)

func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts moto_server")
	}
	ctx := context.Background()
	s, err := motoserver.Start(ctx, motoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !s.Started() || s.PID() == 0 {
		t.Fatalf("Started=%v PID=%d, want a started server", s.Started(), s.PID())
	}

	// The real SDK reaches it through Config.
	client := sqs.NewFromConfig(s.Config("eu-west-1"))
	if _, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: new("motoserver-test")}); err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	out, err := client.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil || len(out.QueueUrls) != 1 {
		t.Fatalf("ListQueues = %v, %v; want 1 queue", out, err)
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	out, err = client.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil || len(out.QueueUrls) != 0 {
		t.Fatalf("after Reset ListQueues = %v, %v; want none", out.QueueUrls, err)
	}

	// An adopted server is never stopped by Stop.
	a, err := motoserver.Adopt(ctx, s.URL+"/", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a.URL != s.URL || a.Started() {
		t.Fatalf("adopted URL=%q Started=%v", a.URL, a.Started())
	}
	a.Stop()
	if err := a.Wait(ctx, time.Second); err != nil {
		t.Fatalf("adopted Stop stopped the server: %v", err)
	}

	pid := s.PID()
	s.Stop()
	s.Stop() // idempotent
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if err := a.Wait(ctx, 300*time.Millisecond); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		o    motoserver.Options
	}{
		{"missing binary", motoserver.Options{Bin: "/nonexistent/moto_server"}},
		{"exits at once", motoserver.Options{Bin: "/bin/false", ReadyTimeout: 5 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := motoserver.Start(ctx, tt.o)
			if err == nil {
				s.Stop()
				t.Fatal("Start succeeded, want an error")
			}
		})
	}
}

func TestAdoptUnreachable(t *testing.T) {
	port, err := motoserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, err = motoserver.Adopt(context.Background(), "http://127.0.0.1:"+itoa(port), 200*time.Millisecond)
	if err == nil {
		t.Fatal("Adopt of a closed port succeeded")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestWaitCancelled(t *testing.T) {
	port, err := motoserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &motoserver.Server{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	if err := s.Wait(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
}
