package cfn

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/homeregion/homeregion/internal/template"
)

const tablesTemplate = `
Resources:
  Plain:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: N}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: by-g
          KeySchema: [{AttributeName: g, KeyType: HASH}]
  Full:
    Type: AWS::DynamoDB::GlobalTable
    Properties:
      AttributeDefinitions: [{AttributeName: idKey, AttributeType: S}]
      KeySchema: [{AttributeName: idKey, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}
  TTLOff:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: false}
  NoKeys:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
`

// TableInput reads the table's layout as the template declares it: keys,
// indexes (projection ALL by default), stream, and TTL only when enabled.
func TestTableInput(t *testing.T) {
	tpl, err := template.Parse("t.yaml", []byte(tablesTemplate))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id                     string
		wantErr                bool
		hash, stream, gsi, ttl string
	}{
		{id: "Plain", hash: "pk", gsi: "by-g"},
		{id: "Full", hash: "idKey", stream: "NEW_AND_OLD_IMAGES", ttl: "expiresAt"},
		{id: "TTLOff", hash: "pk"},
		{id: "NoKeys", wantErr: true},
	} {
		t.Run(tt.id, func(t *testing.T) {
			in, ttl, err := TableInput("tbl", tpl.Resource(tt.id).Properties)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("TableInput = %+v, want an error", in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(in.TableName) != "tbl" || in.BillingMode != ddbtypes.BillingModePayPerRequest {
				t.Errorf("name, billing = %q, %q", aws.ToString(in.TableName), in.BillingMode)
			}
			if len(in.KeySchema) != 1 || aws.ToString(in.KeySchema[0].AttributeName) != tt.hash || in.KeySchema[0].KeyType != ddbtypes.KeyTypeHash {
				t.Errorf("key schema = %+v, want %s HASH", in.KeySchema, tt.hash)
			}
			var stream string
			if in.StreamSpecification != nil {
				stream = string(in.StreamSpecification.StreamViewType)
			}
			if stream != tt.stream {
				t.Errorf("stream = %q, want %q", stream, tt.stream)
			}
			var gsi string
			if len(in.GlobalSecondaryIndexes) > 0 {
				g := in.GlobalSecondaryIndexes[0]
				gsi = aws.ToString(g.IndexName)
				if g.Projection.ProjectionType != ddbtypes.ProjectionTypeAll {
					t.Errorf("projection = %q, want ALL", g.Projection.ProjectionType)
				}
			}
			if gsi != tt.gsi {
				t.Errorf("index = %q, want %q", gsi, tt.gsi)
			}
			var ttlAttr string
			if ttl != nil {
				ttlAttr = aws.ToString(ttl.AttributeName)
			}
			if ttlAttr != tt.ttl {
				t.Errorf("ttl = %q, want %q", ttlAttr, tt.ttl)
			}
		})
	}
}
