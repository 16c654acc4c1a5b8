// Package cfn deploys CloudFormation/SAM templates (read with
// internal/template) into moto_server, region by region, the way
// CloudFormation would deploy a stack: it resolves parameters, evaluates
// conditions and the intrinsic functions (Ref, Fn::Sub, Fn::GetAtt, Fn::If,
// Fn::Join, Fn::FindInMap ...) and outputs, and creates the resources in
// dependency order.
//
// The types it creates in moto are listed once, in creators: DynamoDB tables
// and global tables, SQS queues, KMS keys, replica keys and aliases, Cognito
// user pools and app clients, CloudWatch alarms, Route 53 health checks, ECS
// clusters, task definitions and services. Every other type (functions,
// roles, APIs, permissions ...) gets a deterministic placeholder name and ARN
// so references to it resolve.
//
// What moto does not do is supplied here honestly: a global table is created
// as a plain table in every region (moto does not replicate), except one with
// multi-Region strong consistency, created once as a plain table in the
// region whose condition creates it (moto has no MRSC; the local stack routes
// the other regions' calls to it), a multi-Region
// key is created in Options.PrimaryRegion and replicated with ReplicateKey to
// the others (an AWS::KMS::ReplicaKey stands for that replica), and ECS
// services are created without a launch type (moto rejects EXTERNAL).
//
// It knows nothing of homeregion: internal/provision says what a region of
// homeregion is made of.
package cfn
