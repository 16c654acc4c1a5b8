package awsname

import (
	"regexp"
	"strings"
	"testing"
)

// The reference rules: what Region and Table must agree with.
var (
	regionRef = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	tableRef  = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
)

func TestRegion(t *testing.T) {
	for s, want := range map[string]bool{
		"eu-central-1": true, "eu-central-2": true, "ap-southeast-1": true, "us-gov-west-1": true,
		"us-isob-east-1": true, "me-central-1": true, "cn-north-1": true, "ap-southeast-10": true,
		"": false, "eu": false, "eu-": false, "eu-1": false, "eu-west": false, "eu-west-": false,
		"eu--1": false, "eu-west--1": false, "eu-west-123": false, "EU-west-1": false, "e-west-1": false,
		"eur-west-1": false, "eu-west1-1": false, "eu-west-1a": false, "eu_west_1": false,
		"eu-west-1-": false, "-eu-west-1": false, "eu-West-1": false, " eu-west-1": false, "eu-west-1\n": false,
	} {
		t.Run(s, func(t *testing.T) {
			if got := Region(s); got != want {
				t.Errorf("Region(%q) = %v, want %v", s, got, want)
			}
			if ref := regionRef.MatchString(s); ref != want {
				t.Errorf("reference regexp says %v for %q: the table is wrong", ref, s)
			}
		})
	}
}

func TestTable(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "homeregion-registry": true, "Orders_v2.table": true, strings.Repeat("a", 255): true,
		"": false, "ab": false, strings.Repeat("a", 256): false, "has space": false, "a/b/c": false, "tábla": false,
	} {
		t.Run(s, func(t *testing.T) {
			if got := Table(s); got != want {
				t.Errorf("Table(%q) = %v, want %v", s, got, want)
			}
			if ref := tableRef.MatchString(s); ref != want {
				t.Errorf("reference regexp says %v for %q: the table is wrong", ref, s)
			}
		})
	}
}

func TestQueueURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://sqs.eu-central-1.amazonaws.com/123456789012/orders": true,
		"http://127.0.0.1:5000/123456789012/orders":                  true,
		"":                           false,
		"orders":                     false,
		"https://sqs.amazonaws.com/": false,
		"https://sqs.amazonaws.com":  false,
		"ftp://host/123/orders":      false,
		"https:///123/orders":        false,
		"https:opaque/123":           false,
		"://bad":                     false,
	} {
		t.Run(s, func(t *testing.T) {
			if got := QueueURL(s); got != want {
				t.Errorf("QueueURL(%q) = %v, want %v", s, got, want)
			}
		})
	}
}

func TestFIFOQueueURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://sqs.eu-central-1.amazonaws.com/123456789012/orders.fifo": true,
		"http://127.0.0.1:5000/123456789012/orders.fifo":                  true,
		"https://sqs.eu-central-1.amazonaws.com/123456789012/orders":      false,
		"https://sqs.eu-central-1.amazonaws.com/123456789012/.fifo":       false,
		"https://sqs.eu-central-1.amazonaws.com/123/orders?x=.fifo":       false,
		"https://sqs.eu-central-1.amazonaws.com/123/orders#.fifo":         false,
		"orders.fifo": false,
		"":            false,
	} {
		t.Run(s, func(t *testing.T) {
			if got := FIFOQueueURL(s); got != want {
				t.Errorf("FIFOQueueURL(%q) = %v, want %v", s, got, want)
			}
		})
	}
}

// FuzzRegion and FuzzTable hold the hand-written checks to their reference
// regular expressions (go test -fuzz=FuzzRegion ./shared/awsname).
func FuzzRegion(f *testing.F) {
	for _, s := range []string{"eu-central-1", "us-gov-west-1", "ap-southeast-10", "eu--1", "eu-west-123", "e-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Region(s), regionRef.MatchString(s); got != want {
			t.Errorf("Region(%q) = %v, reference %v", s, got, want)
		}
	})
}

func FuzzTable(f *testing.F) {
	for _, s := range []string{"abc", "ab", "a.b-c_d", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Table(s), tableRef.MatchString(s); got != want {
			t.Errorf("Table(%q) = %v, reference %v", s, got, want)
		}
	})
}

func TestQueueRegion(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/orders", "eu-west-1"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/orders", "cn-north-1"},
		{"http://127.0.0.1:5000/123456789012/orders", ""},
		{"https://sqs.amazonaws.com/123456789012/orders", ""},
		{"https://queue.example.com/orders", ""},
	} {
		if got := QueueRegion(tt.url); got != tt.want {
			t.Errorf("QueueRegion(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}
