package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/homeregion/homeregion/internal/httpapilocal"
	"github.com/homeregion/homeregion/internal/template"
)

// ordersAPIID is the template's HTTP API in front of the orders-api function.
const ordersAPIID = "OrdersHttpApi"

// httpAPIDef is what the local orders API serves: the template's route keys
// ("$default" included) and its CORS configuration (nil: none).
type httpAPIDef struct {
	Routes []string
	CORS   *httpapilocal.CORS
}

// ordersHTTPAPI reads the OrdersHttpApi routes (the HttpApi events of the
// functions that name it) and CorsConfiguration from the template. It refuses
// what the local API does not emulate rather than serve it differently: a
// route without the default JWT authorizer, an API without one, the short
// (non-object) CorsConfiguration forms.
func ordersHTTPAPI(defs *template.Template) (httpAPIDef, error) {
	var def httpAPIDef
	found := false
	for _, r := range defs.Resources {
		if r.LogicalID != ordersAPIID {
			continue
		}
		found = true
		auth, _ := r.Properties["Auth"].(map[string]any)
		if a, _ := auth["DefaultAuthorizer"].(string); a == "" || a == "NONE" {
			return def, fmt.Errorf("%s: the local API emulates a JWT DefaultAuthorizer on every route; the template has none", ordersAPIID)
		}
		if c, ok := r.Properties["CorsConfiguration"]; ok {
			m, ok := c.(map[string]any)
			if !ok {
				return def, fmt.Errorf("%s: CorsConfiguration %v: only the object form is emulated locally", ordersAPIID, c)
			}
			cors, err := corsConfig(m)
			if err != nil {
				return def, fmt.Errorf("%s: CorsConfiguration: %w", ordersAPIID, err)
			}
			def.CORS = cors
		}
	}
	if !found {
		// The template is the only source of resources: no second copy of
		// the routes here.
		return def, fmt.Errorf("template %s defines no %s", defs.Path, ordersAPIID)
	}
	for _, r := range defs.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evs, _ := r.Properties["Events"].(map[string]any)
		names := make([]string, 0, len(evs))
		for n := range evs {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			e, _ := evs[n].(map[string]any)
			if e["Type"] != "HttpApi" {
				continue
			}
			p, _ := e["Properties"].(map[string]any)
			if ref, _ := p["ApiId"].(map[string]any); ref["Ref"] != ordersAPIID {
				continue
			}
			if a, _ := p["Auth"].(map[string]any); a != nil {
				return def, fmt.Errorf("%s event %s: a route's own Auth is not emulated locally", r.LogicalID, n)
			}
			method, _ := p["Method"].(string)
			path, _ := p["Path"].(string)
			switch {
			case path == httpapilocal.DefaultRoute:
				// SAM's Path $default (any method) is the $default route.
				def.Routes = append(def.Routes, httpapilocal.DefaultRoute)
			case method != "" && strings.HasPrefix(path, "/"):
				def.Routes = append(def.Routes, strings.ToUpper(method)+" "+path)
			default:
				return def, fmt.Errorf("%s event %s: route %q %q not understood", r.LogicalID, n, method, path)
			}
		}
	}
	if len(def.Routes) == 0 {
		return def, fmt.Errorf("%s: no function routes to it", ordersAPIID)
	}
	return def, nil
}

// corsConfig reads a SAM HttpApiCorsConfiguration object.
func corsConfig(m map[string]any) (*httpapilocal.CORS, error) {
	list := func(k string) ([]string, error) {
		v, ok := m[k]
		if !ok {
			return nil, nil
		}
		xs, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a list", k)
		}
		out := make([]string, 0, len(xs))
		for _, x := range xs {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%s: %v is not a string", k, x)
			}
			out = append(out, s)
		}
		return out, nil
	}
	c := &httpapilocal.CORS{}
	var err error
	for k, dst := range map[string]*[]string{"AllowOrigins": &c.AllowOrigins, "AllowMethods": &c.AllowMethods, "AllowHeaders": &c.AllowHeaders, "ExposeHeaders": &c.ExposeHeaders} {
		if *dst, err = list(k); err != nil {
			return nil, err
		}
	}
	switch v := m["AllowCredentials"].(type) {
	case nil:
	case bool:
		c.AllowCredentials = v
	default:
		return nil, fmt.Errorf("AllowCredentials %v is not a boolean", v)
	}
	switch v := m["MaxAge"].(type) {
	case nil:
	case int:
		c.MaxAge = v
	case float64:
		c.MaxAge = int(v)
	case string:
		if c.MaxAge, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("MaxAge %q: %w", v, err)
		}
	default:
		return nil, fmt.Errorf("MaxAge %v is not a number", v)
	}
	return c, nil
}
