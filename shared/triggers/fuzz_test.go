package triggers

import (
	"context"
	"os"
	"testing"

	"github.com/homeregion/homeregion/shared/logging"
)

// FuzzInvoke feeds arbitrary payloads to the three triggers through their
// lambda.Handler path: never a panic, and every failure is an error with a
// message.
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"presignup-signup.json", "presignup-external-provider.json", "preauth-authentication.json", "postconfirmation-confirm-signup.json", "preauth-replica.json", "presignup-replica.json"} {
		if b, err := os.ReadFile("../../events/" + name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"request":null}`, `{"triggerSource":"PreSignUp_SignUp","request":{"userAttributes":{}}}`,
		`{"triggerSource":"PreAuthentication_Authentication","request":{"userAttributes":{"email":"A@B.C"},"userNotFound":true}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		reg := &fakeRegistry{t: t, claim: claimHere(true), lookup: notFound, find: notFound}
		su := mustPreSignUp("eu-central-1", policy(t), realKeys(t), reg, logging.Discard(), 0)
		pa := mustPreAuth("eu-central-1", policy(t), realKeys(t), reg, logging.Discard(), 0)
		pc := mustPostConfirmation("eu-central-1", policy(t), realKeys(t), reg, logging.Discard(), 0)
		for _, h := range []interface {
			Invoke(context.Context, []byte) ([]byte, error)
		}{su, pa, pc} {
			out, err := h.Invoke(context.Background(), payload)
			if err != nil && err.Error() == "" {
				t.Fatalf("empty error message for %q", payload)
			}
			if err == nil && len(out) == 0 {
				t.Fatalf("no response and no error for %q", payload)
			}
		}
	})
}
