package main

import (
	"fmt"
	"io"

	"github.com/homeregion/homeregion/internal/localstate"
)

// printTryIt prints the endpoints and copy-paste commands for a first
// sign-up, confirmation, sign-in and order in the first region, and the
// refused sign-up in the second.
func printTryIt(w io.Writer, s localstate.State) {
	if len(s.Regions) == 0 {
		return
	}
	home := s.Regions[0]
	for _, r := range s.Regions {
		if r.Region == s.RegistryRegion {
			home = r
		}
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("")
	p("Try it (bash; the aws CLI talks to the local endpoints, fake credentials):")
	p("")
	p("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=%s", home.Region)
	p("  # 1. sign up in %s (runs the presignup trigger)", home.Region)
	p("  aws cognito-idp sign-up --endpoint-url %s --region %s --client-id %s \\", home.CognitoURL, home.Region, home.ClientID)
	p("    --username ana@example.com --password 'Correct-Horse-42' \\")
	p("    --user-attributes Name=email,Value=ana@example.com Name=custom:region,Value=%s Name=custom:country,Value=DE", home.Region)
	p("  # 2. confirm with the mailed code (no mail locally: any code); the postconfirmation trigger claims the verified e-mail for %s", home.Region)
	p("  aws cognito-idp confirm-sign-up --endpoint-url %s --region %s --client-id %s \\", home.CognitoURL, home.Region, home.ClientID)
	p("    --username ana@example.com --confirmation-code 123456")
	p("  # 3. sign in (runs the preauth trigger) and keep the ID token")
	p("  TOKEN=$(aws cognito-idp initiate-auth --endpoint-url %s --region %s --client-id %s \\", home.CognitoURL, home.Region, home.ClientID)
	p("    --auth-flow USER_PASSWORD_AUTH --auth-parameters 'USERNAME=ana@example.com,PASSWORD=Correct-Horse-42' \\")
	p("    --query AuthenticationResult.IdToken --output text)")
	p("  # 4. place an order (the same key again gives the same answer and no second order), then read it")
	p("  RESP=$(curl -s -X POST %s/orders -H \"Authorization: Bearer $TOKEN\" -H 'Idempotency-Key: first-order-1' \\", home.OrdersAPIURL)
	p("    -H 'Content-Type: application/json' \\")
	p(`    -d '{"items":[{"sku":"AB-12","quantity":2}],"deliveryAddress":{"name":"Ana Muster","line1":"Hauptstr. 1","city":"Berlin","postalCode":"10115","country":"DE"}}')`)
	p("  echo \"$RESP\"; ORDER=$(echo \"$RESP\" | sed -E 's/.*\"orderId\":\"([^\"]+)\".*/\\1/')")
	p("  sleep 1; curl -s %s/orders/$ORDER -H \"Authorization: Bearer $TOKEN\"; echo   # COMPLETED once the processor has it", home.OrdersAPIURL)
	for _, r := range s.Regions {
		if r.Region == home.Region {
			continue
		}
		p("  # 5. the same e-mail signing up in %s is refused: already registered in %s", r.Region, home.Region)
		p("  aws cognito-idp sign-up --endpoint-url %s --region %s --client-id %s \\", r.CognitoURL, r.Region, r.ClientID)
		p("    --username ana@example.com --password 'Correct-Horse-42' \\")
		p("    --user-attributes Name=email,Value=ana@example.com Name=custom:region,Value=%s Name=custom:country,Value=US", r.Region)
		break
	}
	p("")
}
