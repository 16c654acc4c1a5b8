// Package provision creates the local homeregion stack in moto_server and
// says what each of its regions is made of.
//
// internal/provision/cfn, the generic evaluator, deploys template.yaml (and,
// when present, onprem.yaml next to it) per region. This package is the
// product mapping: a Region's tables, queues, user pool and PII key are read
// from the main template's Outputs (regionOutputs), the ECS sites the alarm
// actions act on from the on-prem template's Outputs, the alarms' rules from
// their evaluated properties and the functions' settings from their
// Environment. The templates are the only source of resources and of their
// roles.
//
// A zone pair (Options.Pairs) is provisioned as two stacks that each know
// the other: Apply passes each region the template's pair parameters, the
// partner's pool, app client and queues from the partner's Outputs
// (PartnerOutputs), and evaluates the region deployed first again once its
// partner exists, as a second stack update would. The pair's table, a
// global table with multi-Region strong consistency, is one moto table in
// the pair's table region (Region.PairTable, Region.PairTableRegion).
package provision
