// Package awsname is the one home of the rules for the AWS names homeregion
// reads from its configuration and its tokens: region names, DynamoDB table
// names and SQS queue URLs.
//
// The checks are written by hand rather than with package regexp: a regexp
// compiled in a package variable costs every cold start, and one with a
// counted repetition such as {3,255} compiles to a large program. The tests
// check each function against the equivalent regular expression.
package awsname

import (
	"net/url"
	"path"
	"strings"
)

// Region reports whether s is shaped like an AWS region name, such as
// eu-central-1, ap-southeast-1, us-gov-west-1 or us-isob-east-1: the
// equivalent of ^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$.
//
// It checks the shape, not membership in a list: a region AWS opens after the
// binary was built is accepted. For the same reason the number may have two
// digits: AWS numbers regions within a geography (ap-southeast-7 exists) and
// has not promised to stop at 9, and refusing ap-southeast-10 would make
// deploying there a code change. (A first label other than two letters, as
// in the European Sovereign Cloud's eusc-de-east-1, is not accepted yet.)
func Region(s string) bool {
	// First label: two lower-case letters.
	if len(s) < 2 || !lower(s[0]) || !lower(s[1]) {
		return false
	}
	i, labels := 2, 0
	// One or more "-[a-z]+" labels.
	for i < len(s) && s[i] == '-' && i+1 < len(s) && lower(s[i+1]) {
		i++
		for i < len(s) && lower(s[i]) {
			i++
		}
		labels++
	}
	if labels == 0 || i >= len(s) || s[i] != '-' {
		return false
	}
	// The number: one or two digits, then the end.
	n := s[i+1:]
	if len(n) < 1 || len(n) > 2 {
		return false
	}
	for j := 0; j < len(n); j++ {
		if !digit(n[j]) {
			return false
		}
	}
	return true
}

// Table reports whether s is a DynamoDB table name: 3 to 255 of
// A-Z a-z 0-9 _ . - (^[A-Za-z0-9_.-]{3,255}$).
func Table(s string) bool {
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(lower(c) || 'A' <= c && c <= 'Z' || digit(c) || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// QueueURL reports whether s is usable as an SQS queue URL: an absolute
// http or https URL with a host and a path below the root (the SQS
// endpoint's https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, or a local
// emulator's http://127.0.0.1:PORT/ACCOUNT/NAME). It does not insist on an
// AWS host, so the same rule serves the local stack.
func QueueURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return false
	}
	return len(u.Path) >= 2
}

// FIFOQueueURL reports whether s is a queue URL (QueueURL) that names a
// FIFO queue: SQS requires a FIFO queue's name to end in ".fifo", and a
// query or fragment does not count.
func FIFOQueueURL(s string) bool {
	if !QueueURL(s) {
		return false
	}
	u, _ := url.Parse(s)
	return strings.HasSuffix(u.Path, ".fifo") && len(path.Base(u.Path)) > len(".fifo")
}

func lower(c byte) bool { return 'a' <= c && c <= 'z' }
func digit(c byte) bool { return '0' <= c && c <= '9' }

// QueueRegion returns the region an SQS queue URL's host names
// (https://sqs.REGION.amazonaws.com/...), or "" when its host names none (a
// local emulator's URL, where the signing region selects the queue, so two
// regions' queues may share one URL).
func QueueRegion(s string) string {
	rest, ok := strings.CutPrefix(s, "https://sqs.")
	if !ok {
		return ""
	}
	region, _, ok := strings.Cut(rest, ".")
	if !ok || !Region(region) {
		return ""
	}
	return region
}
