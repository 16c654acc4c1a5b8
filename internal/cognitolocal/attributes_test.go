package cognitolocal_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// Attribute updates and verification, against moto (see moto_test.go).

func TestEmailUpdatePendingUntilVerified(t *testing.T) {
	s := newStack(t, poolSpec{requireVerification: true})
	sub := s.confirmedUser(t, "ana@example.com")
	tok := s.mustSignIn(t, "ana@example.com")
	ctx := context.Background()

	out, err := s.api.UpdateUserAttributes(ctx, &cip.UpdateUserAttributesInput{
		AccessToken: aws.String(tok), UserAttributes: []ciptypes.AttributeType{attr("email", "new@example.org")},
	})
	if err != nil {
		t.Fatalf("UpdateUserAttributes: %v", err)
	}
	if d := out.CodeDeliveryDetailsList; len(d) != 1 || aws.ToString(d[0].Destination) != "n***@e***" ||
		d[0].DeliveryMedium != ciptypes.DeliveryMediumTypeEmail || aws.ToString(d[0].AttributeName) != "email" {
		t.Errorf("CodeDeliveryDetailsList = %+v", d)
	}

	// Pending: the original address stays active and verified.
	if _, attrs := s.stored(t, sub); attrs["email"] != "ana@example.com" || attrs["email_verified"] != "true" {
		t.Fatalf("while pending: email %q verified %q, want the original, true", attrs["email"], attrs["email_verified"])
	}
	if _, err := s.signIn("ana@example.com"); err != nil {
		t.Errorf("sign in with the original address while pending: %v", err)
	}
	if _, err := s.signIn("new@example.org"); err == nil {
		t.Errorf("sign in with the unverified new address succeeded")
	}
	code, err := s.api.GetUserAttributeVerificationCode(ctx, &cip.GetUserAttributeVerificationCodeInput{AccessToken: aws.String(tok), AttributeName: aws.String("email")})
	if err != nil {
		t.Fatalf("GetUserAttributeVerificationCode: %v", err)
	}
	if d := code.CodeDeliveryDetails; aws.ToString(d.Destination) != "n***@e***" || d.DeliveryMedium != ciptypes.DeliveryMediumTypeEmail || aws.ToString(d.AttributeName) != "email" {
		t.Errorf("CodeDeliveryDetails = %+v", d)
	}

	// No code, no verification.
	_, err = s.api.VerifyUserAttribute(ctx, &cip.VerifyUserAttributeInput{AccessToken: aws.String(tok), AttributeName: aws.String("email"), Code: aws.String("")})
	wantAPIError(t, err, "CodeMismatchException", "Invalid verification code provided, please try again.")
	if _, attrs := s.stored(t, sub); attrs["email"] != "ana@example.com" {
		t.Fatalf("after a failed verification email = %q, want the original", attrs["email"])
	}

	if _, err := s.api.VerifyUserAttribute(ctx, &cip.VerifyUserAttributeInput{AccessToken: aws.String(tok), AttributeName: aws.String("email"), Code: aws.String("123456")}); err != nil {
		t.Fatalf("VerifyUserAttribute: %v", err)
	}
	if _, attrs := s.stored(t, sub); attrs["email"] != "new@example.org" || attrs["email_verified"] != "true" {
		t.Errorf("after verification: email %q verified %q, want the new address, true", attrs["email"], attrs["email_verified"])
	}
	if _, err := s.signIn("new@example.org"); err != nil {
		t.Errorf("sign in with the verified new address: %v", err)
	}
}

func TestEmailUpdateWithoutVerificationSetting(t *testing.T) {
	s := newStack(t, poolSpec{})
	sub := s.confirmedUser(t, "ana@example.com")
	tok := s.mustSignIn(t, "ana@example.com")
	ctx := context.Background()
	out, err := s.api.UpdateUserAttributes(ctx, &cip.UpdateUserAttributesInput{
		AccessToken: aws.String(tok), UserAttributes: []ciptypes.AttributeType{attr("email", "new@example.org")},
	})
	if err != nil {
		t.Fatalf("UpdateUserAttributes: %v", err)
	}
	if d := out.CodeDeliveryDetailsList; len(d) != 1 || aws.ToString(d[0].Destination) != "n***@e***" {
		t.Errorf("CodeDeliveryDetailsList = %+v", d)
	}
	if _, attrs := s.stored(t, sub); attrs["email"] != "new@example.org" || attrs["email_verified"] != "false" {
		t.Fatalf("after update: email %q verified %q, want the new address, false", attrs["email"], attrs["email_verified"])
	}
	if _, err := s.api.VerifyUserAttribute(ctx, &cip.VerifyUserAttributeInput{AccessToken: aws.String(tok), AttributeName: aws.String("email"), Code: aws.String("123456")}); err != nil {
		t.Fatalf("VerifyUserAttribute: %v", err)
	}
	if _, attrs := s.stored(t, sub); attrs["email"] != "new@example.org" || attrs["email_verified"] != "true" {
		t.Errorf("after verification: email %q verified %q, want the new address, true", attrs["email"], attrs["email_verified"])
	}
}

func TestAdminEmailUpdate(t *testing.T) {
	tests := []struct {
		name                string
		requireVerification bool
		attrs               []ciptypes.AttributeType
		wantEmail           string
		wantVerified        string
		// thenVerify sends email_verified=true alone afterwards.
		thenVerify bool
	}{
		{name: "with email_verified=true applies at once", requireVerification: true,
			attrs: []ciptypes.AttributeType{attr("email", "new@example.org"), attr("email_verified", "true")}, wantEmail: "new@example.org", wantVerified: "true"},
		{name: "without email_verified stays pending", requireVerification: true,
			attrs: []ciptypes.AttributeType{attr("email", "new@example.org")}, wantEmail: "ana@example.com", wantVerified: "true"},
		{name: "pending, then email_verified=true applies it", requireVerification: true, thenVerify: true,
			attrs: []ciptypes.AttributeType{attr("email", "new@example.org")}, wantEmail: "new@example.org", wantVerified: "true"},
		// "True" is stored as sent; the change stays pending, and the triggers,
		// which read exactly "true", treat the address as unverified.
		{name: `email_verified "True" is not "true": stays pending`, requireVerification: true,
			attrs: []ciptypes.AttributeType{attr("email", "new@example.org"), attr("email_verified", "True")}, wantEmail: "ana@example.com", wantVerified: "True"},
		{name: "pool without the setting: applies unverified",
			attrs: []ciptypes.AttributeType{attr("email", "new@example.org")}, wantEmail: "new@example.org", wantVerified: "false"},
		{name: "other attributes in a pending update apply", requireVerification: true,
			attrs: []ciptypes.AttributeType{attr("email", "new@example.org"), attr("name", "Ana")}, wantEmail: "ana@example.com", wantVerified: "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, poolSpec{requireVerification: tt.requireVerification})
			sub := s.confirmedUser(t, "ana@example.com")
			ctx := context.Background()
			if _, err := s.api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
				UserPoolId: aws.String(s.pool), Username: aws.String(sub), UserAttributes: tt.attrs,
			}); err != nil {
				t.Fatalf("AdminUpdateUserAttributes: %v", err)
			}
			if tt.thenVerify {
				if _, err := s.api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
					UserPoolId: aws.String(s.pool), Username: aws.String(sub), UserAttributes: []ciptypes.AttributeType{attr("email_verified", "true")},
				}); err != nil {
					t.Fatalf("AdminUpdateUserAttributes email_verified: %v", err)
				}
			}
			_, attrs := s.stored(t, sub)
			if attrs["email"] != tt.wantEmail || attrs["email_verified"] != tt.wantVerified {
				t.Errorf("email %q verified %q, want %q %q", attrs["email"], attrs["email_verified"], tt.wantEmail, tt.wantVerified)
			}
			for _, a := range tt.attrs {
				if n := aws.ToString(a.Name); n != "email" && n != "email_verified" && attrs[n] != aws.ToString(a.Value) {
					t.Errorf("%s = %q, want %q", n, attrs[n], aws.ToString(a.Value))
				}
			}
		})
	}
}

func TestRefusedAttributeWrites(t *testing.T) {
	tests := []struct {
		name        string
		admin       bool
		attrs       []ciptypes.AttributeType
		wantCode    string
		wantMessage string
	}{
		{name: "user changes custom:region", attrs: []ciptypes.AttributeType{attr("custom:region", "us-east-1")},
			wantCode: "InvalidParameterException", wantMessage: "user.custom:region: Attribute cannot be updated."},
		{name: "user changes custom:country with another attribute", attrs: []ciptypes.AttributeType{attr("name", "Ana"), attr("custom:country", "US")},
			wantCode: "InvalidParameterException", wantMessage: "user.custom:country: Attribute cannot be updated."},
		{name: "admin changes custom:region", admin: true, attrs: []ciptypes.AttributeType{attr("custom:region", "us-east-1")},
			wantCode: "InvalidParameterException", wantMessage: "user.custom:region: Attribute cannot be updated."},
		{name: "user marks own e-mail verified", attrs: []ciptypes.AttributeType{attr("email_verified", "true")},
			wantCode: "NotAuthorizedException", wantMessage: "A client attempted to write unauthorized attribute"},
		{name: "user deletes the required e-mail", attrs: []ciptypes.AttributeType{attr("email", "")},
			wantCode: "InvalidParameterException", wantMessage: "Attributes did not conform to the schema: email: The attribute is required"},
		{name: "admin deletes the required e-mail", admin: true, attrs: []ciptypes.AttributeType{attr("email", "")},
			wantCode: "InvalidParameterException", wantMessage: "Attributes did not conform to the schema: email: The attribute is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, poolSpec{requireVerification: true})
			sub := s.signUp(t, "ana@example.com")
			if _, err := s.admin.AdminConfirmSignUp(context.Background(), &cip.AdminConfirmSignUpInput{UserPoolId: aws.String(s.pool), Username: aws.String(sub)}); err != nil {
				t.Fatal(err)
			}
			var err error
			if tt.admin {
				_, err = s.api.AdminUpdateUserAttributes(context.Background(), &cip.AdminUpdateUserAttributesInput{
					UserPoolId: aws.String(s.pool), Username: aws.String(sub), UserAttributes: tt.attrs,
				})
			} else {
				_, err = s.api.UpdateUserAttributes(context.Background(), &cip.UpdateUserAttributesInput{
					AccessToken: aws.String(s.mustSignIn(t, "ana@example.com")), UserAttributes: tt.attrs,
				})
			}
			wantAPIError(t, err, tt.wantCode, tt.wantMessage)
			_, attrs := s.stored(t, sub)
			if attrs["custom:region"] != region || attrs["custom:country"] != "DE" || attrs["email_verified"] != "false" || attrs["name"] != "" {
				t.Errorf("stored attributes changed: %v", attrs)
			}
		})
	}

}

// TestOtherPoolUntouched: calls for a pool the endpoint is not configured
// with reach moto as sent (moto's own behaviour, no triggers).
func TestOtherPoolUntouched(t *testing.T) {
	s := newStack(t, poolSpec{requireVerification: true})
	otherPool, otherClient := createPool(t, s.admin, poolSpec{requireVerification: true})
	ctx := context.Background()
	const email = "bo@example.com"
	out, err := s.api.SignUp(ctx, &cip.SignUpInput{
		ClientId: aws.String(otherClient), Username: aws.String(email), Password: aws.String(password),
		UserAttributes: []ciptypes.AttributeType{attr("email", email), attr("custom:region", region)},
	})
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	sub := aws.ToString(out.UserSub)
	if _, err := s.api.ConfirmSignUp(ctx, &cip.ConfirmSignUpInput{ClientId: aws.String(otherClient), Username: aws.String(email), ConfirmationCode: aws.String("1")}); err != nil {
		t.Fatalf("ConfirmSignUp: %v", err)
	}
	confirmed, err := s.admin.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(otherPool), Username: aws.String(sub)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range confirmed.UserAttributes {
		if aws.ToString(a.Name) == "email_verified" {
			t.Errorf("other pool: email_verified = %q after sign-up and confirmation, want moto's (unset)", aws.ToString(a.Value))
		}
	}
	if _, err := s.api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{
		UserPoolId: aws.String(otherPool), Username: aws.String(sub),
		UserAttributes: []ciptypes.AttributeType{attr("custom:region", "us-east-1"), attr("email", "bo2@example.com")},
	}); err != nil {
		t.Fatalf("AdminUpdateUserAttributes: %v", err)
	}
	signIn, err := s.api.InitiateAuth(ctx, &cip.InitiateAuthInput{
		ClientId: aws.String(otherClient), AuthFlow: ciptypes.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "bo2@example.com", "PASSWORD": password},
	})
	if err != nil {
		t.Fatalf("InitiateAuth: %v", err)
	}
	// In the configured pool a user may not set the flag or the country.
	if _, err := s.api.UpdateUserAttributes(ctx, &cip.UpdateUserAttributesInput{
		AccessToken:    signIn.AuthenticationResult.AccessToken,
		UserAttributes: []ciptypes.AttributeType{attr("email_verified", "true"), attr("custom:country", "US")},
	}); err != nil {
		t.Fatalf("UpdateUserAttributes: %v", err)
	}
	got, err := s.admin.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(otherPool), Username: aws.String(sub)})
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{}
	for _, a := range got.UserAttributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	if n := len(s.trigger.got()); n != 0 || attrs["email_verified"] != "true" || attrs["custom:country"] != "US" ||
		attrs["custom:region"] != "us-east-1" || attrs["email"] != "bo2@example.com" {
		t.Errorf("other pool: trigger ran %d times, attributes %v; want moto's own behaviour", n, attrs)
	}
}
