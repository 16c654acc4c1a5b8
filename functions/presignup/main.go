// Command presignup is the Cognito PreSignUp trigger of homeregion (see package
// triggers for the rules). main only wires: triggers.Main reads the
// configuration once (triggers.Build, tested there), builds the SDK clients
// once from one aws.Config and hands triggers.PreSignUp to the Lambda runtime.
package main

import "github.com/homeregion/homeregion/shared/triggers"

func main() { triggers.Main("presignup", triggers.NewPreSignUp) }
