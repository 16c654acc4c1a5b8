package templatecheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/homeregion/homeregion/internal/template"
)

// SiteDatabaseParameter is the parameter, in template.yaml and onprem.yaml
// alike, that says what the on-prem sites' databases are.
const SiteDatabaseParameter = "SiteDatabase"

// The values of SiteDatabaseParameter.
const (
	// SQLite is one embedded database file on one server of the site: the
	// site runs at most one processor task, always on that server.
	SQLite = "sqlite"
	// Shared is a database every task of the site shares (PostgreSQL): any
	// number of tasks on any server of the site.
	Shared = "shared"
)

// SiteDatabaseKinds are SiteDatabaseParameter's AllowedValues, in this
// order, the first the Default.
var SiteDatabaseKinds = []string{SQLite, Shared}

// The container instance attributes that place a site's tasks: every server
// of the site has SiteAttribute=<site name>; the one that holds a SQLite
// site's database file also has SiteDatabaseServerAttribute=true.
const (
	SiteAttribute               = "homeregion.site"
	SiteDatabaseServerAttribute = "homeregion.site-db"
)

// siteTaskCount is one place a template sets how many processor tasks a
// site runs.
type siteTaskCount struct {
	resource string
	what     string // e.g. "DesiredCount", "MAX_TASKS"
	value    any
}

// siteTaskCounts finds the task counts of the on-prem sites: the desired
// count of every EXTERNAL (ECS Anywhere) service, and the counts the scale
// (MIN_TASKS, MAX_TASKS) and promote (STANDBY_TASKS) alarm actions set.
func siteTaskCounts(t *template.Template) []siteTaskCount {
	var cs []siteTaskCount
	for _, id := range externalServices(t) {
		cs = append(cs, siteTaskCount{id, "DesiredCount", t.Resource(id).Properties["DesiredCount"]})
	}
	for _, fn := range append(t.IDs("AWS::Serverless::Function"), t.IDs("AWS::Lambda::Function")...) {
		env, _ := t.Resource(fn).Properties["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		var names []string
		switch vars["ACTION"] {
		case "scale":
			names = []string{"MIN_TASKS", "MAX_TASKS"}
		case "promote":
			names = []string{"STANDBY_TASKS"}
		}
		for _, n := range names {
			cs = append(cs, siteTaskCount{fn, n, vars[n]})
		}
	}
	return cs
}

// externalServices are the ECS services on ECS Anywhere (the sites' servers).
func externalServices(t *template.Template) []string {
	var ids []string
	for _, id := range t.IDs("AWS::ECS::Service") {
		if t.Resource(id).Properties["LaunchType"] == "EXTERNAL" {
			ids = append(ids, id)
		}
	}
	return ids
}

// CheckSiteDatabase holds a template that runs or scales the on-prem sites'
// processors to the one-database rule: a SQLite site database is one file
// on one server, so a SQLite site must never run two tasks. It requires
//   - the SiteDatabaseParameter, with SiteDatabaseKinds as its values and
//     SQLite as its default (the same in every template, so the regional
//     and the on-prem stack can be told the same thing);
//   - every site task count (an EXTERNAL service's DesiredCount, the scale
//     action's MIN_TASKS and MAX_TASKS, the promote action's STANDBY_TASKS)
//     to be a !Ref to a parameter, or a literal 0 or 1, and the template's
//     Rules to refuse 2 for that parameter when SiteDatabase is sqlite;
//   - with SiteDatabase sqlite, every EXTERNAL service to be pinned to its
//     site's database server (a memberOf expression that ands
//     attribute:homeregion.site == <site> and
//     attribute:homeregion.site-db == true, nothing else) and to be
//     replaced stop-first (ECS deployment controller, MaximumPercent 100,
//     MinimumHealthyPercent 0), so no restart or deployment starts a
//     second task or one on another server.
func CheckSiteDatabase(t *template.Template) []Finding {
	counts := siteTaskCounts(t)
	if len(counts) == 0 {
		return nil
	}
	var fs []Finding
	p, ok := t.Parameters[SiteDatabaseParameter]
	switch {
	case !ok:
		return []Finding{{"site-database", SiteDatabaseParameter, "the template sets site task counts but has no " + SiteDatabaseParameter + " parameter to bound them by"}}
	case !slices.Equal(template.Strings(p.Properties["AllowedValues"]), SiteDatabaseKinds):
		fs = append(fs, Finding{"site-database", SiteDatabaseParameter, fmt.Sprintf("AllowedValues %v, want %v (the same in every template)", p.Properties["AllowedValues"], SiteDatabaseKinds)})
	case p.Default == nil || *p.Default != SQLite:
		fs = append(fs, Finding{"site-database", SiteDatabaseParameter, "Default must be " + SQLite + " (the deployment that is safe without a shared database)"})
	}
	sqlite := map[string]string{SiteDatabaseParameter: SQLite}
	base, err := RuleFailures(t, sqlite)
	if err != nil {
		return append(fs, Finding{"site-database", "Rules", err.Error()})
	}
	for _, c := range counts {
		where := c.what
		m, _ := c.value.(map[string]any)
		name, isRef := m["Ref"].(string)
		if !isRef || len(m) != 1 {
			if n, ok := template.Int(c.value); c.value != nil && (!ok || n > 1) {
				fs = append(fs, Finding{"site-database", c.resource, fmt.Sprintf("%s %v is neither 0, 1 nor a !Ref to a parameter the %s rule can bound", where, c.value, SQLite)})
			}
			continue
		}
		if _, ok := t.Parameters[name]; !ok {
			fs = append(fs, Finding{"site-database", c.resource, where + " refers to " + name + ", which is not a parameter"})
			continue
		}
		two := map[string]string{SiteDatabaseParameter: SQLite, name: "2"}
		got, err := RuleFailures(t, two)
		if err != nil {
			fs = append(fs, Finding{"site-database", "Rules", err.Error()})
			continue
		}
		if len(got) <= len(base) {
			fs = append(fs, Finding{"site-database", c.resource, fmt.Sprintf("%s comes from %s, and no Rule refuses %s=2 with %s=%s: a SQLite site could run two tasks, two databases", where, name, name, SiteDatabaseParameter, SQLite)})
		}
	}
	e := newRuleEval(t, sqlite)
	for _, id := range externalServices(t) {
		props, err := e.resolve(t.Resource(id).Properties)
		if err != nil {
			fs = append(fs, Finding{"site-database", id, "with " + SiteDatabaseParameter + "=" + SQLite + ": " + err.Error()})
			continue
		}
		fs = append(fs, checkSqliteService(id, props.(map[string]any))...)
	}
	return fs
}

// checkSqliteService checks one EXTERNAL service's properties as they are
// with SiteDatabase sqlite.
func checkSqliteService(id string, p map[string]any) []Finding {
	var fs []Finding
	pinned := false
	for _, c := range template.Maps(p["PlacementConstraints"]) {
		if c["Type"] == "memberOf" && pinsDatabaseServer(subTemplate(c["Expression"])) {
			pinned = true
		}
	}
	if !pinned {
		fs = append(fs, Finding{"site-database", id, fmt.Sprintf("with %s=%s, no memberOf placement pins the task to its site's database server (attribute:%s == <site> and attribute:%s == true, and nothing else)", SiteDatabaseParameter, SQLite, SiteAttribute, SiteDatabaseServerAttribute)})
	}
	dc, _ := p["DeploymentConfiguration"].(map[string]any)
	if n, ok := template.Int(dc["MaximumPercent"]); !ok || n != 100 {
		fs = append(fs, Finding{"site-database", id, fmt.Sprintf("with %s=%s, DeploymentConfiguration.MaximumPercent is %v, want 100 (ECS's default 200 starts the new task before the old one stops: two tasks, and a second database if the pin ever allows it)", SiteDatabaseParameter, SQLite, dc["MaximumPercent"])})
	}
	if n, ok := template.Int(dc["MinimumHealthyPercent"]); !ok || n != 0 {
		fs = append(fs, Finding{"site-database", id, fmt.Sprintf("with %s=%s, DeploymentConfiguration.MinimumHealthyPercent is %v, want 0 (with MaximumPercent 100 the old task must stop first)", SiteDatabaseParameter, SQLite, dc["MinimumHealthyPercent"])})
	}
	if ctl, ok := p["DeploymentController"].(map[string]any); ok && ctl["Type"] != nil && ctl["Type"] != "ECS" {
		fs = append(fs, Finding{"site-database", id, fmt.Sprintf("with %s=%s, DeploymentController %v: only the ECS rolling controller honours MaximumPercent 100", SiteDatabaseParameter, SQLite, ctl["Type"])})
	}
	return fs
}

// subTemplate returns an expression's text: a string, or an Fn::Sub's
// template (its ${...} variables left in place).
func subTemplate(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	m, _ := v.(map[string]any)
	switch x := m["Fn::Sub"].(type) {
	case string:
		return x
	case []any:
		if len(x) > 0 {
			s, _ := x[0].(string)
			return s
		}
	}
	return ""
}

// attributeTerm is one `attribute:<name> == <value>` of a cluster query.
var attributeTerm = regexp.MustCompile(`^attribute:([A-Za-z0-9_.\-/]+)\s*==\s*(\S+)$`)

// pinsDatabaseServer reports whether a cluster query language expression
// selects only a site's database server: a conjunction (and, &&) of
// attribute equalities that includes the site and the database server
// attribute set to true. Any or, not or other operator could let a task
// land on another server, so it does not pin.
func pinsDatabaseServer(expr string) bool {
	terms := regexp.MustCompile(`\s+and\s+|\s*&&\s*`).Split(strings.TrimSpace(expr), -1)
	site, db := false, false
	for _, term := range terms {
		m := attributeTerm.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			return false
		}
		switch m[1] {
		case SiteAttribute:
			site = true
		case SiteDatabaseServerAttribute:
			db = m[2] == "true"
		}
	}
	return site && db
}
