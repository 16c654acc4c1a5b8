package pairlocal

import (
	"net/http"
	"regexp"
	"strings"
)

// SigningRegion returns the region of a SigV4-signed request's credential
// scope (the Authorization header's Credential=<key>/<date>/<region>/<service>/aws4_request),
// or "" when the request is not signed with SigV4 (anonymous calls such as
// Cognito's InitiateAuth from recent SDKs, presigned URLs, SigV4a).
func SigningRegion(h http.Header) string {
	parts, _, _ := credentialScope(h.Get("Authorization"))
	if parts == nil {
		return ""
	}
	return parts[2]
}

// SetSigningRegion rewrites the region of a SigV4-signed request to region,
// in the credential scope and in a "region/<region>" token of the
// User-Agent, so that moto_server serves it from region's backend: moto keys
// its backends on the region it reads from the host name
// (<service>.<region>.amazonaws.com, never the case locally), then the
// User-Agent's region/ token, then the credential scope, and never verifies
// the signature (moto/core/responses.py, BaseResponse.get_region_from_url).
// The signature no longer matches, which only a real AWS endpoint would
// notice. An unsigned request is left as it is; it reports whether the
// request was rewritten. This is the one home of that rewrite: pairlocal's
// MRSC tables and cognitolocal's pool replicas use it.
func SetSigningRegion(h http.Header, region string) bool {
	auth := h.Get("Authorization")
	parts, start, end := credentialScope(auth)
	if parts == nil {
		return false
	}
	old := parts[2]
	parts[2] = region
	h.Set("Authorization", auth[:start]+strings.Join(parts, "/")+auth[end:])
	if ua := h.Get("User-Agent"); strings.Contains(ua, "region/"+old) {
		h.Set("User-Agent", userAgentRegion.ReplaceAllString(ua, "region/"+region))
	}
	return true
}

// userAgentRegion is moto's pattern for a region in the User-Agent.
var userAgentRegion = regexp.MustCompile(`region/[a-z]{2}-[a-z]+-\d`)

// credentialScope splits the Credential= value of a SigV4 Authorization
// header into its five parts and returns where the value starts and ends in
// auth; nil parts when auth is not SigV4 with a well-formed scope.
func credentialScope(auth string) (parts []string, start, end int) {
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		return nil, 0, 0
	}
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return nil, 0, 0
	}
	start = i + len("Credential=")
	end = len(auth)
	if j := strings.IndexAny(auth[start:], ", "); j >= 0 {
		end = start + j
	}
	parts = strings.Split(auth[start:end], "/")
	if len(parts) != 5 || parts[2] == "" {
		return nil, 0, 0
	}
	return parts, start, end
}
