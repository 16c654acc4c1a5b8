// Package kmsops holds the KMS operations homeregion calls, bound to a
// *kms.Client as method values (see package awsclient for why).
package kmsops

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// Ops holds the bound operations; it satisfies any adapter interface made of
// a subset of them. Build it with New.
type Ops struct {
	GenerateMacFn func(context.Context, *kms.GenerateMacInput, ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
}

// New binds the operations to c.
func New(c *kms.Client) *Ops {
	return &Ops{
		GenerateMacFn: c.GenerateMac,
	}
}

// GenerateMac calls kms.Client.GenerateMac.
func (o *Ops) GenerateMac(ctx context.Context, in *kms.GenerateMacInput, optFns ...func(*kms.Options)) (*kms.GenerateMacOutput, error) {
	return o.GenerateMacFn(ctx, in, optFns...)
}
