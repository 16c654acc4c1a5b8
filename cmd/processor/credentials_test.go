package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/homeregion/homeregion/internal/mototest"
	"github.com/homeregion/homeregion/internal/orderstoretest"
	"github.com/homeregion/homeregion/internal/processortest"
)

// TestContainerCredentials runs the binary the way ECS Anywhere does: no keys
// in the environment, the task role's credentials served by the container
// credentials endpoint. The processor must fetch them there and work.
func TestContainerCredentials(t *testing.T) {
	srv := mototest.Require(t)
	bin := processortest.Build(t, "cmd/processor")
	var fetched atomic.Int32
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"AccessKeyId":"ecs-anywhere","SecretAccessKey":"secret","Token":"token","Expiration":"` +
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
	}))
	defer creds.Close()

	f := processortest.New(t, srv.Config("eu-west-1"), 100)
	ids := processortest.IDs("creds", 5)
	dsn, table := orderstoretest.NewSite(t, "sqlite")
	f.Seed(t, ids)

	p := processortest.Start(t, bin, srv.URL, f, dsn, []string{
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + creds.URL + "/v2/credentials",
	})
	processortest.WaitFor(t, 2*time.Minute, "5 rows", func() bool { return rows(t, table) >= 5 })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status = %d, want 0\n%s", code, p.Output())
	}
	if fetched.Load() == 0 {
		t.Fatal("the container credentials endpoint was never asked: the processor did not use the task role's credentials")
	}
}
