package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/httpapilocal"
	"github.com/homeregion/homeregion/internal/localstate"
	"github.com/homeregion/homeregion/internal/template"
	"github.com/homeregion/homeregion/shared/ordersapi"
)

// TestOrdersHTTPAPIFromTemplate: the local orders API serves the template's
// routes, $default included, and the template's CORS configuration (none).
func TestOrdersHTTPAPIFromTemplate(t *testing.T) {
	defs, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api, err := ordersHTTPAPI(defs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ordersapi.RouteCreate, ordersapi.RouteGet, ordersapi.RouteEraseMe, ordersapi.RouteErasure, httpapilocal.DefaultRoute}
	got := slices.Clone(api.Routes)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("routes = %v, want %v", api.Routes, want)
	}
	if api.CORS != nil {
		t.Errorf("CORS = %+v, want none (template.yaml has no CorsConfiguration)", api.CORS)
	}
}

func TestOrdersHTTPAPIParsing(t *testing.T) {
	const head = `
Transform: AWS::Serverless-2016-10-31
Resources:
  OrdersHttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: CognitoJwt
`
	const fn = `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A:
          Type: HttpApi
          Properties:
            ApiId: !Ref OrdersHttpApi
            Method: post
            Path: /orders
        B:
          Type: HttpApi
          Properties:
            ApiId: !Ref OrdersHttpApi
            Method: ANY
            Path: $default
`
	tests := []struct {
		name, src string
		want      []string
		cors      *httpapilocal.CORS
		wantErr   bool
	}{
		{name: "routes, no CORS", src: head + fn, want: []string{"POST /orders", "$default"}},
		{name: "CorsConfiguration", src: head + `      CorsConfiguration:
        AllowOrigins: [https://app.example.com]
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization]
        ExposeHeaders: [location]
        AllowCredentials: true
        MaxAge: 600
` + fn, want: []string{"POST /orders", "$default"}, cors: &httpapilocal.CORS{AllowOrigins: []string{"https://app.example.com"},
			AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"authorization"}, ExposeHeaders: []string{"location"}, AllowCredentials: true, MaxAge: 600}},
		// The short forms' defaults are SAM's to define: not guessed locally.
		{name: "CorsConfiguration: true is not emulated", src: head + "      CorsConfiguration: true\n" + fn, wantErr: true},
		{name: "a route without the authorizer is not emulated", src: head + fn + `        C:
          Type: HttpApi
          Properties:
            ApiId: !Ref OrdersHttpApi
            Method: GET
            Path: /health
            Auth:
              Authorizer: NONE
`, wantErr: true},
		{name: "no default authorizer is not emulated", src: `
Resources:
  OrdersHttpApi:
    Type: AWS::Serverless::HttpApi
    Properties: {}
` + fn, wantErr: true},
		{name: "a template without the API is refused, not defaulted", src: `
Resources:
  Other:
    Type: AWS::SQS::Queue
`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defs, err := template.Parse("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			api, err := ordersHTTPAPI(defs)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !slices.Equal(slices.Sorted(slices.Values(api.Routes)), slices.Sorted(slices.Values(tt.want))) {
				t.Errorf("routes = %v, want %v", api.Routes, tt.want)
			}
			switch {
			case tt.cors == nil && api.CORS != nil, tt.cors != nil && api.CORS == nil:
				t.Errorf("CORS = %+v, want %+v", api.CORS, tt.cors)
			case tt.cors != nil && (!slices.Equal(api.CORS.AllowOrigins, tt.cors.AllowOrigins) || !slices.Equal(api.CORS.AllowMethods, tt.cors.AllowMethods) ||
				!slices.Equal(api.CORS.AllowHeaders, tt.cors.AllowHeaders) || !slices.Equal(api.CORS.ExposeHeaders, tt.cors.ExposeHeaders) ||
				api.CORS.AllowCredentials != tt.cors.AllowCredentials || api.CORS.MaxAge != tt.cors.MaxAge):
				t.Errorf("CORS = %+v, want %+v", api.CORS, tt.cors)
			}
		})
	}
}

// TestTryItFlowsEnabledByTemplate: every --auth-flow the printed commands use
// is enabled by the template's app client, so the same commands work against
// a deployed pool (Cognito refuses a flow the client does not enable, and the
// local endpoint now does too).
func TestTryItFlowsEnabledByTemplate(t *testing.T) {
	defs, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var flows []string
	for _, r := range defs.Resources {
		if r.Type == "AWS::Cognito::UserPoolClient" {
			for _, f := range r.Properties["ExplicitAuthFlows"].([]any) {
				flows = append(flows, f.(string))
			}
		}
	}
	var b strings.Builder
	printTryIt(&b, localstate.State{RegistryRegion: "eu-west-1", Regions: []localstate.Region{{Region: "eu-west-1", ClientID: "c"}}})
	used := 0
	for _, f := range strings.Fields(b.String()) {
		if !strings.HasSuffix(f, "_AUTH") || strings.HasPrefix(f, "ALLOW_") {
			continue
		}
		used++
		if !slices.Contains(flows, "ALLOW_"+f) {
			t.Errorf("the printed commands use %s; template.yaml's app client enables only %v", f, flows)
		}
	}
	if used == 0 {
		t.Fatal("no --auth-flow in the printed commands")
	}
}
