package templatecheck

import (
	"slices"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

const secretARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:site-dsn"

// pairParams is a complete zone pair (eu-west-1 paired with eu-central-1),
// with over's values over it.
func pairParams(over map[string]string) map[string]string {
	p := map[string]string{"ZonePairRegion": "eu-central-1", "ZonePairUserPoolId": "eu-central-1_abcdEFGH1", "ZonePairAppClientId": "a1b2c3",
		"ZonePairDeadLetterQueueUrl": "https://sqs.eu-central-1.amazonaws.com/111122223333/dlq", "ZonePairDeadLetterQueueArn": "arn:aws:sqs:eu-central-1:111122223333:dlq",
		"PairTableName": "orders-pair", "PairTableRegion": "eu-west-1", "PairWitnessRegion": "eu-west-3", "SecondaryRegion": "eu-central-1"}
	for k, v := range over {
		p[k] = v
	}
	return p
}

// pairNames is eu-west-1's own API name and its partner's, served here.
var pairNames = pairDNSParams("api-w.example.com", "api-c.example.com")

// TestRulesOfTheRealTemplates deploys parameter sets against both
// templates' Rules: what docs/site-deployment.md says is refused is.
func TestRulesOfTheRealTemplates(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		params  map[string]string
		refused string // part of the failed AssertDescription; "" = accepted
	}{
		{"regional defaults", templates[0], nil, ""},
		{"regional sqlite scales to 4", templates[0], map[string]string{"MaxTasks": "4"}, "MaxTasks must be 1"},
		{"regional sqlite keeps 2", templates[0], map[string]string{"MinTasks": "2"}, "MinTasks must be 0 or 1"},
		{"regional sqlite may idle", templates[0], map[string]string{"MinTasks": "0"}, ""},
		{"regional sqlite promotes 2", templates[0], map[string]string{"StandbyTasks": "2"}, "StandbyTasks must be 1"},
		{"regional sqlite written 1.0", templates[0], map[string]string{"MaxTasks": "1.0"}, "MaxTasks must be 1"},
		{"regional shared scales out", templates[0], map[string]string{"SiteDatabase": "shared", "MinTasks": "2", "MaxTasks": "8", "StandbyTasks": "3"}, ""},
		{"paired", templates[0], pairParams(nil), ""},
		{"paired on Lite", templates[0], pairParams(map[string]string{"UserPoolTier": "LITE"}), "UserPoolTier must be ESSENTIALS or PLUS"},
		{"unpaired on Lite", templates[0], map[string]string{"UserPoolTier": "LITE"}, ""},
		{"paired without the partner's pool", templates[0], pairParams(map[string]string{"ZonePairUserPoolId": ""}), "ZonePairUserPoolId and ZonePairAppClientId"},
		{"paired without the partner's DLQ ARN", templates[0], pairParams(map[string]string{"ZonePairDeadLetterQueueArn": "arn:aws:sqs:none:000000000000:none"}), "dead-letter queue"},
		{"paired without the table's region", templates[0], pairParams(map[string]string{"PairTableRegion": ""}), "PairTableName, PairTableRegion and PairWitnessRegion"},
		{"paired, the witness is the partner", templates[0], pairParams(map[string]string{"PairWitnessRegion": "eu-central-1"}), "third region"},
		{"paired, a witness outside the zone (London)", templates[0], pairParams(map[string]string{"PairWitnessRegion": "eu-west-2"}), "one residency zone and one DynamoDB MRSC region set"},
		{"paired, a US witness for an EU pair", templates[0], pairParams(map[string]string{"PairWitnessRegion": "us-east-2"}), "one residency zone and one DynamoDB MRSC region set"},
		{"paired with a region of another zone", templates[0], pairParams(map[string]string{"ZonePairRegion": "us-east-1", "SecondaryRegion": "us-east-1"}), "one residency zone and one DynamoDB MRSC region set"},
		{"paired, failing over elsewhere", templates[0], pairParams(map[string]string{"SecondaryRegion": "eu-west-3"}), "SecondaryRegion must be the partner"},
		{"paired, serving the partner's API name", templates[0], pairParams(pairNames), ""},
		{"paired, SECONDARY for its own name", templates[0], pairParams(map[string]string{"FailoverRecordRole": "SECONDARY"}), "FailoverRecordRole must be PRIMARY"},
		{"unpaired, SECONDARY for a zone-wide name", templates[0], map[string]string{"FailoverRecordRole": "SECONDARY", "ApiDomainName": "api.eu.example.com"}, ""},
		{"unpaired with the partner's API name", templates[0], withParams(pairNames, map[string]string{"SecondaryRegion": "eu-central-1"}), "ZonePairRegion must name the partner"},
		{"paired, the partner's API name without a certificate", templates[0], pairParams(withParams(pairNames, map[string]string{"ZonePairApiCertificateArn": ""})), "must be set together"},
		{"paired, only the partner's hosted zone", templates[0], pairParams(map[string]string{"ZonePairApiHostedZoneId": "Z0123456789ABC"}), "must be set together"},
		{"paired, the partner's API name is this region's", templates[0], pairParams(withParams(pairNames, map[string]string{"ZonePairApiDomainName": "api-w.example.com"})), "not this region's ApiDomainName"},
		{"ARC without a routing control", templates[0], map[string]string{"FailoverSwitch": "arc"}, "ArcRoutingControlArn and ArcClusterEndpoints"},
		{"ARC", templates[0], map[string]string{"FailoverSwitch": "arc", "ArcRoutingControlArn": "arn:aws:route53-recovery-control::111122223333:controlpanel/abc/routingcontrol/def",
			"ArcClusterEndpoints": "us-west-2=https://a.example.com/v1"}, ""},
		{"on-prem paired", templates[1], map[string]string{"ZonePairRegion": "eu-central-1", "ZonePairQueueUrl": "https://sqs.eu-central-1.amazonaws.com/111122223333/q",
			"ZonePairQueueArn": "arn:aws:sqs:eu-central-1:111122223333:q", "PairTableName": "orders-pair"}, ""},
		{"on-prem paired without the partner's queue", templates[1], map[string]string{"ZonePairRegion": "eu-central-1", "PairTableName": "orders-pair"}, "ZonePairQueueUrl, ZonePairQueueArn and PairTableName"},
		{"on-prem defaults", templates[1], nil, ""},
		{"on-prem sqlite primary 2", templates[1], map[string]string{"PrimaryTasks": "2"}, "PrimaryTasks must be 0 or 1"},
		{"on-prem sqlite standby 2", templates[1], map[string]string{"StandbyTasks": "2"}, "StandbyTasks must be 0 or 1"},
		{"on-prem sqlite with a DSN", templates[1], map[string]string{"SiteDatabaseSecretArn": secretARN}, "must be empty"},
		{"on-prem sqlite with a standby DSN", templates[1], map[string]string{"StandbySiteDatabaseSecretArn": secretARN}, "must be empty"},
		{"on-prem shared without a DSN", templates[1], map[string]string{"SiteDatabase": "shared"}, "SiteDatabaseSecretArn must name"},
		{"on-prem shared", templates[1], map[string]string{"SiteDatabase": "shared", "SiteDatabaseSecretArn": secretARN, "PrimaryTasks": "5", "StandbyTasks": "2"}, ""},
		{"on-prem shared, standby's own", templates[1], map[string]string{"SiteDatabase": "shared", "SiteDatabaseSecretArn": secretARN, "StandbySiteDatabaseSecretArn": secretARN + "-standby"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := template.Load(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := RuleFailures(tpl, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if tc.refused == "" {
				if len(got) > 0 {
					t.Errorf("refused: %q", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(d string) bool { return strings.Contains(d, tc.refused) }) {
				t.Errorf("failures %q, want one containing %q", got, tc.refused)
			}
		})
	}
}

func TestPinsDatabaseServer(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{"attribute:homeregion.site == ${PrimarySiteName} and attribute:homeregion.site-db == true", true},
		{"attribute:homeregion.site-db == true && attribute:homeregion.site == primary", true},
		{"attribute:homeregion.site == ${PrimarySiteName}", false},
		{"attribute:homeregion.site-db == true", false}, // any site's database server
		{"attribute:homeregion.site == primary and attribute:homeregion.site-db == false", false},
		{"attribute:homeregion.site == primary or attribute:homeregion.site-db == true", false},
		{"attribute:homeregion.site == primary and attribute:homeregion.site-db != false", false},
		{"attribute:homeregion.site == primary and attribute:homeregion.site-db == true or attribute:x == y", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := pinsDatabaseServer(tc.expr); got != tc.want {
			t.Errorf("pinsDatabaseServer(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// TestSiteDatabaseAgreesAcrossTemplates: the regional and the on-prem stack
// are told the same thing with the same words.
func TestSiteDatabaseAgreesAcrossTemplates(t *testing.T) {
	var decl []string
	for _, path := range templates[:2] { // arc.yaml runs no site
		tpl, err := template.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := tpl.Parameters[SiteDatabaseParameter]
		if !ok {
			t.Fatalf("%s: no %s parameter", path, SiteDatabaseParameter)
		}
		def := "<none>"
		if p.Default != nil {
			def = *p.Default
		}
		decl = append(decl, strings.Join(template.Strings(p.Properties["AllowedValues"]), ",")+" default "+def)
		if len(siteTaskCounts(tpl)) == 0 {
			t.Errorf("%s sets no site task count: the site-database check has nothing to hold it to", path)
		}
	}
	if decl[0] != decl[1] {
		t.Errorf("%s: %s; %s: %s", templates[0], decl[0], templates[1], decl[1])
	}
}

// TestSiteDatabaseMutations breaks the one-database rule in the real
// templates and asserts the site-database check notices.
func TestSiteDatabaseMutations(t *testing.T) {
	fnWithAction := func(tpl *template.Template, action string) map[string]any {
		for _, id := range tpl.IDs("AWS::Serverless::Function") {
			env, _ := tpl.Resource(id).Properties["Environment"].(map[string]any)
			if vars, _ := env["Variables"].(map[string]any); vars["ACTION"] == action {
				return vars
			}
		}
		t.Fatalf("no %s function", action)
		return nil
	}
	assertions := func(tpl *template.Template) *[]any {
		r, _ := tpl.Rules["SqliteSiteRunsOneTask"].(map[string]any)
		if r == nil {
			t.Fatal("no SqliteSiteRunsOneTask rule")
		}
		a, _ := r["Assertions"].([]any)
		return &a
	}
	dropAssertionOn := func(tpl *template.Template, param string) {
		a := assertions(tpl)
		n := len(*a)
		*a = slices.DeleteFunc(*a, func(x any) bool { return slices.Contains(template.Refs(x), param) })
		if len(*a) == n {
			t.Fatalf("no assertion on %s", param)
		}
		tpl.Rules["SqliteSiteRunsOneTask"].(map[string]any)["Assertions"] = *a
	}
	service := func(tpl *template.Template) map[string]any {
		ids := externalServices(tpl)
		if len(ids) == 0 {
			t.Fatal("no EXTERNAL service")
		}
		return tpl.Resource(ids[0]).Properties
	}
	mutations := []struct {
		name   string
		path   string
		mutate func(tpl *template.Template)
	}{
		{"regional: no SQLite rule", templates[0], func(tpl *template.Template) { delete(tpl.Rules, "SqliteSiteRunsOneTask") }},
		{"regional: MAX_TASKS unbounded", templates[0], func(tpl *template.Template) { dropAssertionOn(tpl, "MaxTasks") }},
		{"regional: MIN_TASKS unbounded", templates[0], func(tpl *template.Template) { dropAssertionOn(tpl, "MinTasks") }},
		{"regional: STANDBY_TASKS unbounded", templates[0], func(tpl *template.Template) { dropAssertionOn(tpl, "StandbyTasks") }},
		{"regional: MAX_TASKS from another parameter", templates[0], func(tpl *template.Template) {
			d := "4"
			tpl.Parameters["ScaleCeiling"] = template.Parameter{Type: "Number", Default: &d, Properties: map[string]any{"Type": "Number", "Default": 4}}
			fnWithAction(tpl, "scale")["MAX_TASKS"] = map[string]any{"Ref": "ScaleCeiling"}
		}},
		{"regional: MAX_TASKS a literal 4", templates[0], func(tpl *template.Template) { fnWithAction(tpl, "scale")["MAX_TASKS"] = 4 }},
		{"regional: MAX_TASKS from no parameter", templates[0], func(tpl *template.Template) {
			fnWithAction(tpl, "scale")["MAX_TASKS"] = map[string]any{"Ref": "Nope"}
		}},
		{"regional: other values", templates[0], func(tpl *template.Template) {
			tpl.Parameters[SiteDatabaseParameter].Properties["AllowedValues"] = []any{"sqlite", "postgres"}
		}},
		{"regional: no parameter", templates[0], func(tpl *template.Template) { delete(tpl.Parameters, SiteDatabaseParameter) }},
		{"on-prem: no SQLite rule", templates[1], func(tpl *template.Template) { delete(tpl.Rules, "SqliteSiteRunsOneTask") }},
		{"on-prem: primary DesiredCount unbounded", templates[1], func(tpl *template.Template) { dropAssertionOn(tpl, "PrimaryTasks") }},
		{"on-prem: DesiredCount a literal 2", templates[1], func(tpl *template.Template) { service(tpl)["DesiredCount"] = 2 }},
		{"on-prem: default shared", templates[1], func(tpl *template.Template) {
			d := Shared
			p := tpl.Parameters[SiteDatabaseParameter]
			p.Default = &d
			tpl.Parameters[SiteDatabaseParameter] = p
		}},
		{"on-prem: placed on any server of the site", templates[1], func(tpl *template.Template) {
			service(tpl)["PlacementConstraints"] = []any{map[string]any{"Type": "memberOf",
				"Expression": map[string]any{"Fn::Sub": "attribute:homeregion.site == ${PrimarySiteName}"}}}
		}},
		{"on-prem: pin with an or", templates[1], func(tpl *template.Template) {
			service(tpl)["PlacementConstraints"] = []any{map[string]any{"Type": "memberOf",
				"Expression": map[string]any{"Fn::Sub": "attribute:homeregion.site == ${PrimarySiteName} or attribute:homeregion.site-db == true"}}}
		}},
		{"on-prem: pin only in the shared branch", templates[1], func(tpl *template.Template) {
			for _, c := range template.Maps(service(tpl)["PlacementConstraints"]) {
				f := c["Expression"].(map[string]any)["Fn::If"].([]any)
				f[1], f[2] = f[2], f[1]
			}
		}},
		{"on-prem: start-first deployments", templates[1], func(tpl *template.Template) {
			service(tpl)["DeploymentConfiguration"].(map[string]any)["MaximumPercent"] = 200
		}},
		{"on-prem: ECS's default deployment", templates[1], func(tpl *template.Template) { delete(service(tpl), "DeploymentConfiguration") }},
		{"on-prem: CODE_DEPLOY controller", templates[1], func(tpl *template.Template) {
			service(tpl)["DeploymentController"] = map[string]any{"Type": "CODE_DEPLOY"}
		}},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(m.path)
			if err != nil {
				t.Fatal(err)
			}
			m.mutate(tpl)
			for _, f := range Check(tpl) {
				if f.Check == "site-database" {
					return
				}
			}
			t.Errorf("breaking %q produced no site-database finding", m.name)
		})
	}
}

// TestSamconfigEnvironmentsPassTheRules: `sam deploy --config-env <env>`
// must not be refused by template.yaml's Rules.
func TestSamconfigEnvironmentsPassTheRules(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	for env, params := range samEnvs(t, "../../samconfig.toml") {
		got, err := RuleFailures(tpl, params)
		if err != nil {
			t.Fatalf("[%s]: %v", env, err)
		}
		for _, d := range got {
			t.Errorf("samconfig.toml [%s] is refused: %s", env, d)
		}
	}
}
