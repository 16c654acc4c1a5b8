package cwquery

import "testing"

func TestForEndpoint(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{"AWS itself", nil, 0},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, 1},
		{"AWS_ENDPOINT_URL_CLOUDWATCH", map[string]string{"AWS_ENDPOINT_URL_CLOUDWATCH": "http://127.0.0.1:5000"}, 1},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(ForEndpoint(func(k string) string { return tt.env[k] })); got != tt.want {
				t.Errorf("options = %d, want %d", got, tt.want)
			}
		})
	}
}
