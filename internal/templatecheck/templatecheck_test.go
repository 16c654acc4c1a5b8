package templatecheck

import (
	"os"
	"strings"
	"testing"

	"github.com/homeregion/homeregion/internal/template"
)

// templates are the project's templates, relative to this package.
var templates = []string{"../../template.yaml", "../../onprem.yaml", "../../arc.yaml"}

func TestProjectTemplates(t *testing.T) {
	for _, path := range templates {
		t.Run(path, func(t *testing.T) {
			if _, err := os.Stat(path); os.IsNotExist(err) && path != templates[0] {
				t.Skipf("%s not present", path)
			}
			tpl, err := template.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range Check(tpl) {
				t.Error(f)
			}
		})
	}
}

// TestMainTemplateIsNotVacuous makes sure the checks have something to check:
// a template without pools, tables, queues or alarm actions would pass them all.
func TestMainTemplateIsNotVacuous(t *testing.T) {
	tpl, err := template.Load(templates[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::SQS::Queue"} {
		if len(tpl.IDs(typ)) == 0 {
			t.Errorf("template.yaml defines no %s", typ)
		}
	}
	if len(tpl.IDs("AWS::DynamoDB::Table"))+len(tpl.IDs("AWS::DynamoDB::GlobalTable")) == 0 {
		t.Error("template.yaml defines no DynamoDB table")
	}
	async := 0
	for _, fn := range tpl.IDs("AWS::Serverless::Function") {
		if invokedAsync(tpl, fn) {
			async++
		}
	}
	if async == 0 {
		t.Error("template.yaml has no asynchronously invoked function (the alarm actions should be)")
	}
}

// TestChecksCatchViolations runs the checks on small templates that each
// break one property and asserts the right finding, and on their fixed twins
// that must pass.
func TestChecksCatchViolations(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		wantCheck string // "" = no finding expected
		wantRes   string
		wantMsg   string
	}{
		{"resource star", `
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: dynamodb:PutItem
                Resource: "*"
`, "iam", "Role", "dynamodb:PutItem"},
		{"action star", `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: ["sqs:*"]
              Resource: !GetAtt Queue.Arn
`, "iam", "Fn", "wildcard action"},
		{"bare star action", `
Resources:
  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: "*"
            Resource: !Sub "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:q"
`, "iam", "P", "wildcard action"},
		{"not action", `
Resources:
  P:
    Type: AWS::IAM::Policy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            NotAction: iam:*
            Resource: arn:aws:s3:::b
`, "iam", "P", "NotAction"},
		{"allow-listed star", `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [xray:PutTraceSegments, cloudwatch:PutMetricData]
              Resource: "*"
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt Table.Arn
        - DynamoDBReadPolicy: {TableName: !Ref Table}
`, "", "", ""},
		{"unreviewed SAM template", `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - AmazonDynamoDBFullAccess
`, "iam", "Fn", "managed policy"},
		{"key policy root ok, other star not", `
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
          - Effect: Allow
            Principal: {AWS: !GetAtt FnRole.Arn}
            Action: kms:*
            Resource: "*"
`, "iam", "Key", "statement 1: wildcard action"},
		{"table without SSE", `
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
`, "encryption", "T", "SSESpecification"},
		{"global table SSE false", `
Resources:
  T:
    Type: AWS::DynamoDB::GlobalTable
    Properties:
      SSESpecification: {SSEEnabled: false}
`, "encryption", "T", "SSESpecification"},
		{"queue without SSE", `
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: false
`, "encryption", "Q", "SqsManagedSseEnabled"},
		{"encrypted table and queues", `
Resources:
  T:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      SSESpecification: {SSEEnabled: true}
  Q:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      SqsManagedSseEnabled: true
  K:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      KmsMasterKeyId: alias/aws/sqs
`, "", "", ""},
		{"mutable region", `
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      Schema:
        - {Name: region, AttributeDataType: String, Mutable: true}
        - {Name: country, AttributeDataType: String, Mutable: false}
`, "residency-attributes", "Pool", "custom:region must be Mutable: false"},
		{"country missing (default mutable)", `
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      Schema:
        - {Name: region, AttributeDataType: String, Mutable: false}
        - {Name: country, AttributeDataType: String}
`, "residency-attributes", "Pool", "custom:country must be Mutable: false"},
		{"client writes mutable attribute", `
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      Schema:
        - {Name: region, AttributeDataType: String, Mutable: false}
  Client:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      WriteAttributes: [email, custom:region, custom:country]
`, "residency-attributes", "Client", "custom:country"},
		{"client without WriteAttributes", `
Resources:
  Client:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
`, "residency-attributes", "Client", "explicit WriteAttributes"},
		{"immutable attributes, explicit client", `
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      Schema:
        - {Name: region, AttributeDataType: String, Mutable: false}
        - {Name: country, AttributeDataType: String, Mutable: "false"}
  Client:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      WriteAttributes: [email, custom:region, custom:country]
`, "", "", ""},
		{"alarm action without DLQ", `
Resources:
  Failover:
    Type: AWS::Serverless::Function
    Properties: {}
  Perm:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Failover.Arn
      Action: lambda:InvokeFunction
      Principal: lambda.alarms.cloudwatch.amazonaws.com
      SourceArn: !GetAtt Alarm.Arn
`, "async-failure-destination", "Failover", "DeadLetterQueue"},
		{"alarm action target without DLQ", `
Resources:
  Scale:
    Type: AWS::Serverless::Function
    Properties: {}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!GetAtt Scale.Arn]
`, "async-failure-destination", "Scale", "OnFailure"},
		{"alarm action with DLQ and with OnFailure", `
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DLQ.Arn}
  B:
    Type: AWS::Serverless::Function
    Properties: {}
  BInvoke:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref B
      Qualifier: $LATEST
      DestinationConfig: {OnFailure: {Destination: !GetAtt DLQ.Arn}}
  C:
    Type: AWS::Serverless::Function
    Properties:
      EventInvokeConfig:
        DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt DLQ.Arn}}
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!GetAtt A.Arn, !GetAtt B.Arn, !Sub "${C.Arn}"]
  Sync:
    Type: AWS::Serverless::Function
    Properties: {}
`, "", "", ""},
		{"log group retention a literal", `
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RetentionInDays: 30
`, "log-retention", "Logs", "parameter"},
		{"log group retention parameter below a year", `
Parameters:
  Days:
    Type: Number
    Default: 30
    AllowedValues: [1, 30, 365]
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RetentionInDays: !Ref Days
`, "log-retention", "Logs", "Default 30"},
		{"log group retention parameter allows an invalid value", `
Parameters:
  Days:
    Type: Number
    Default: 365
    AllowedValues: [365, 500]
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RetentionInDays: !Ref Days
`, "log-retention", "Logs", "500"},
		{"log group retention parameter without AllowedValues", `
Parameters:
  Days:
    Type: Number
    Default: 365
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RetentionInDays: !Ref Days
`, "log-retention", "Logs", "AllowedValues"},
		{"log group without deletion policies", `
Parameters:
  Days:
    Type: Number
    Default: 365
    AllowedValues: [365, 731]
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref Days
`, "deletion-policy", "Logs", "DeletionPolicy"},
		{"queue without update-replace policy", `
Resources:
  Q:
    Type: AWS::SQS::Queue
    DeletionPolicy: Delete
    Properties:
      SqsManagedSseEnabled: true
`, "deletion-policy", "Q", "UpdateReplacePolicy"},
		{"parameterised retention, explicit policies", `
Parameters:
  Days:
    Type: Number
    Default: 365
    AllowedValues: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      RetentionInDays: !Ref Days
  NeverExpires:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties: {}
`, "", "", ""},
		{"key policy lets the account create grants", `
Resources:
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
`, "kms-create-grant", "Key", "kms:CreateGrant"},
		{"replica key deny without the AWS-resource condition", `
Resources:
  Key:
    Type: AWS::KMS::ReplicaKey
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
          - Effect: Deny
            Principal: {AWS: "*"}
            Action: kms:CreateGrant
            Resource: "*"
            Condition:
              BoolIfExists: {aws:PrincipalIsAWSService: "false"}
`, "kms-create-grant", "Key", "kms:CreateGrant"},
		{"key policy restricts grants to AWS services", `
Resources:
  Key:
    Type: AWS::KMS::Key
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
          - Effect: Deny
            Principal: {AWS: "*"}
            Action: [kms:CreateGrant]
            Resource: "*"
            Condition:
              BoolIfExists:
                kms:GrantIsForAWSResource: "false"
                aws:PrincipalIsAWSService: "false"
`, "", "", ""},
		{"task definition container as root", `
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: c
          User: "0:0"
          ReadonlyRootFilesystem: true
          Memory: 512
`, "task-definition", "Task", "non-root User"},
		{"task definition container without user", `
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: c
          ReadonlyRootFilesystem: true
          Memory: 512
`, "task-definition", "Task", "non-root User"},
		{"task definition writable root filesystem", `
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: c
          User: "65532:65532"
          Memory: 512
`, "task-definition", "Task", "ReadonlyRootFilesystem"},
		{"task definition without container memory limit", `
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Memory: "512"
      ContainerDefinitions:
        - Name: c
          User: "65532:65532"
          ReadonlyRootFilesystem: true
`, "task-definition", "Task", "Memory"},
		{"hardened task definition", `
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: c
          User: "65532:65532"
          ReadonlyRootFilesystem: true
          Memory: 512
`, "", "", ""},
		{"service permission without SourceArn", `
Resources:
  Perm:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Fn.Arn
      Action: lambda:InvokeFunction
      Principal: cognito-idp.amazonaws.com
`, "lambda-permission", "Perm", "SourceArn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := template.Parse(tc.name, []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			fs := Check(tpl)
			if tc.wantCheck == "" {
				for _, f := range fs {
					t.Errorf("unexpected finding: %s", f)
				}
				return
			}
			for _, f := range fs {
				if f.Check == tc.wantCheck && f.Resource == tc.wantRes && strings.Contains(f.Message, tc.wantMsg) {
					return
				}
			}
			t.Errorf("no %s finding on %s containing %q; got %v", tc.wantCheck, tc.wantRes, tc.wantMsg, fs)
		})
	}
}

// TestMutationsOfTheRealTemplate breaks each property in the project's own
// template.yaml and asserts the checks notice.
func TestMutationsOfTheRealTemplate(t *testing.T) {
	mutations := []struct {
		name      string
		wantCheck string
		mutate    func(t *testing.T, tpl *template.Template) bool // false: nothing to mutate
	}{
		{"a role statement on Resource *", "iam", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::Serverless::Function") {
				p := tpl.Resource(id).Properties
				p["Policies"] = append(list(p["Policies"]), map[string]any{"Statement": []any{
					map[string]any{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}}})
				return true
			}
			return false
		}},
		{"an alarm function whose timeout outlasts its event claim", "alarm-claim-lease", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::Serverless::Function") {
				p := tpl.Resource(id).Properties
				if env, ok := p["Environment"].(map[string]any); ok {
					if vars, ok := env["Variables"].(map[string]any); ok && vars["ACTION"] != nil {
						p["Timeout"] = 45
						return true
					}
				}
			}
			return false
		}},
		{"an alarm function whose timeout is a parameter", "alarm-claim-lease", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::Serverless::Function") {
				p := tpl.Resource(id).Properties
				if env, ok := p["Environment"].(map[string]any); ok {
					if vars, ok := env["Variables"].(map[string]any); ok && vars["ACTION"] != nil {
						p["Timeout"] = map[string]any{"Ref": "AlarmTimeout"}
						return true
					}
				}
			}
			return false
		}},
		{"a table without SSE", "encryption", func(t *testing.T, tpl *template.Template) bool {
			for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"} {
				for _, id := range tpl.IDs(typ) {
					delete(tpl.Resource(id).Properties, "SSESpecification")
					return true
				}
			}
			return false
		}},
		{"a queue without SSE", "encryption", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::SQS::Queue") {
				delete(tpl.Resource(id).Properties, "SqsManagedSseEnabled")
				delete(tpl.Resource(id).Properties, "KmsMasterKeyId")
				return true
			}
			return false
		}},
		{"custom:region mutable", "residency-attributes", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::Cognito::UserPool") {
				for _, a := range list(tpl.Resource(id).Properties["Schema"]) {
					if m, ok := a.(map[string]any); ok && m["Name"] == "region" {
						m["Mutable"] = true
						return true
					}
				}
			}
			return false
		}},
		{"alarm functions without DLQ or destination", "async-failure-destination", func(t *testing.T, tpl *template.Template) bool {
			changed := false
			for _, id := range tpl.IDs("AWS::Serverless::Function") {
				if invokedAsync(tpl, id) {
					p := tpl.Resource(id).Properties
					delete(p, "DeadLetterQueue")
					delete(p, "EventInvokeConfig")
					changed = true
				}
			}
			for _, id := range tpl.IDs("AWS::Lambda::EventInvokeConfig") {
				tpl.Remove(id)
			}
			return changed
		}},
		{"access-log retention back to a literal 30 days", "log-retention", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::Logs::LogGroup") {
				tpl.Resource(id).Properties["RetentionInDays"] = 30
				return true
			}
			return false
		}},
		{"a log group without DeletionPolicy", "deletion-policy", func(t *testing.T, tpl *template.Template) bool {
			for _, id := range tpl.IDs("AWS::Logs::LogGroup") {
				tpl.Resource(id).DeletionPolicy = ""
				return true
			}
			return false
		}},
		{"the PII key without the CreateGrant deny", "kms-create-grant", func(t *testing.T, tpl *template.Template) bool {
			ids := tpl.IDs("AWS::KMS::Key")
			if len(ids) == 0 {
				return false
			}
			pol, _ := tpl.Resource(ids[0]).Properties["KeyPolicy"].(map[string]any)
			var keep []any
			for _, st := range list(pol["Statement"]) {
				if m, _ := st.(map[string]any); m["Effect"] != "Deny" {
					keep = append(keep, st)
				}
			}
			pol["Statement"] = keep
			return true
		}},
		{"PreSignUp may write the registry", "trigger-grants", func(t *testing.T, tpl *template.Template) bool {
			p := tpl.Resource("PreSignUpFunction").Properties
			p["Policies"] = append(list(p["Policies"]), map[string]any{"Statement": []any{map[string]any{"Effect": "Allow",
				"Action": "dynamodb:PutItem", "Resource": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${RegistryRegion}:${AWS::AccountId}:table/${RegistryTableName}"}}}})
			return true
		}},
		{"PostConfirmation claims in the local replica", "trigger-grants", func(t *testing.T, tpl *template.Template) bool {
			p := tpl.Resource("PostConfirmationFunction").Properties
			p["Policies"] = append(list(p["Policies"]), map[string]any{"Statement": []any{map[string]any{"Effect": "Allow",
				"Action": []any{"dynamodb:PutItem"}, "Resource": map[string]any{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${RegistryTableName}"}}}})
			return true
		}},
		{"a trigger function gone", "trigger-grants", func(t *testing.T, tpl *template.Template) bool {
			tpl.Remove("PreAuthFunction")
			return true
		}},
		{"the pool does not invoke PreAuthentication", "user-pool-triggers", func(t *testing.T, tpl *template.Template) bool {
			lc, _ := tpl.Resource("UserPool").Properties["LambdaConfig"].(map[string]any)
			delete(lc, "PreAuthentication")
			return lc != nil
		}},
		{"Cognito may invoke a trigger for any pool", "user-pool-triggers", func(t *testing.T, tpl *template.Template) bool {
			changed := false
			for _, id := range tpl.IDs("AWS::Lambda::Permission") {
				if p := tpl.Resource(id).Properties; p["Principal"] == "cognito-idp.amazonaws.com" && mentions(p["FunctionName"], "PreSignUpFunction") {
					p["SourceArn"] = map[string]any{"Fn::Sub": "arn:aws:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*"}
					changed = true
				}
			}
			return changed
		}},
		{"a standard orders queue", "orders-queue", func(t *testing.T, tpl *template.Template) bool {
			delete(tpl.Resource("OrdersQueue").Properties, "FifoQueue")
			return true
		}},
		{"orders queue deduplicating per queue", "orders-queue", func(t *testing.T, tpl *template.Template) bool {
			tpl.Resource("OrdersQueue").Properties["DeduplicationScope"] = "queue"
			return true
		}},
		{"orders queue with content-based deduplication", "orders-queue", func(t *testing.T, tpl *template.Template) bool {
			tpl.Resource("OrdersQueue").Properties["ContentBasedDeduplication"] = true
			return true
		}},
		{"a standard orders DLQ", "orders-queue", func(t *testing.T, tpl *template.Template) bool {
			delete(tpl.Resource("OrdersDeadLetterQueue").Properties, "FifoQueue")
			return true
		}},
		{"an e-mail change effective before verification", "user-pool-triggers", func(t *testing.T, tpl *template.Template) bool {
			_, ok := tpl.Resource("UserPool").Properties["UserAttributeUpdateSettings"]
			delete(tpl.Resource("UserPool").Properties, "UserAttributeUpdateSettings")
			return ok
		}},
	}
	mutations = append(mutations, erasureMutations...)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			tpl, err := template.Load(templates[0])
			if err != nil {
				t.Fatal(err)
			}
			if !m.mutate(t, tpl) {
				t.Fatalf("template.yaml has nothing to mutate for %q", m.name)
			}
			for _, f := range Check(tpl) {
				if f.Check == m.wantCheck {
					return
				}
			}
			t.Errorf("breaking %q produced no %s finding", m.name, m.wantCheck)
		})
	}
}

// TestOnpremTaskDefinitionsMutations breaks the on-prem task definitions'
// hardening and asserts the task-definition check notices.
func TestOnpremTaskDefinitionsMutations(t *testing.T) {
	for _, prop := range []string{"User", "ReadonlyRootFilesystem", "Memory"} {
		t.Run("without "+prop, func(t *testing.T) {
			tpl, err := template.Load(templates[1])
			if err != nil {
				t.Fatal(err)
			}
			ids := tpl.IDs("AWS::ECS::TaskDefinition")
			if len(ids) == 0 {
				t.Fatal("onprem.yaml defines no task definition")
			}
			for _, c := range list(tpl.Resource(ids[0]).Properties["ContainerDefinitions"]) {
				delete(c.(map[string]any), prop)
			}
			for _, f := range Check(tpl) {
				if f.Check == "task-definition" && f.Resource == ids[0] && strings.Contains(f.Message, prop) {
					return
				}
			}
			t.Errorf("removing %s from %s produced no task-definition finding", prop, ids[0])
		})
	}
}
