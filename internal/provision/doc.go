// Package provision creates in moto_server, per local region, what
// template.yaml (and, when present, onprem.yaml next to it) defines, and says
// what a region of homeregion is made of.
//
// It has two halves. The generic evaluator (engine.go, eval.go,
// resources.go) evaluates any template, read with internal/template, per
// region exactly like CloudFormation would for a stack named "homeregion":
// parameters, conditions (IsRegistryRegion ...), intrinsic functions and
// outputs; it creates the resource types listed in creators (DynamoDB
// tables and global tables, SQS queues, the multi-Region KMS key and its
// replicas, Cognito user pools and app clients, CloudWatch alarms, Route 53
// health checks, ECS clusters, task definitions and services), and gives the
// types moto cannot or need not host (functions, roles, APIs, permissions)
// deterministic placeholder names and ARNs so references to them resolve.
//
// The product mapping (homeregion.go) reads a Region (its tables, queues,
// user pool, key, alarms and the functions' environment) from the main
// template's Outputs, the functions' Environment and the on-prem template's
// Outputs: the templates are the only source of resources and of their roles.
//
// What moto does not do is supplied here honestly: global tables are created
// as plain tables in every local region (moto does not replicate; the
// registry-region read fallback keeps that correct), a multi-Region key is
// created in the registry region and replicated with ReplicateKey to the
// others, and ECS services are created without a launch type (moto rejects
// EXTERNAL).
package provision
