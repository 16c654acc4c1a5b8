// Command presignup is the Cognito PreSignUp trigger of homeregion (see package
// triggers for the rules). main only wires, in the shape every
// function shares (package lambdamain): triggers.Setup runs triggers.Build (triggers.ParseEnv,
// awsconfig.Load, triggers.NewFromAWS, triggers.NewPreSignUp; tested there) and
// hands the handler to the Lambda runtime.
package main

import (
	"github.com/homeregion/homeregion/shared/lambdamain"
	"github.com/homeregion/homeregion/shared/triggers"
)

func main() { lambdamain.Start(triggers.Setup("presignup", triggers.NewPreSignUp)) }
