package push_test

import (
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method/push"
)

func TestLocators(t *testing.T) {
	n, err := push.NewNetworks(map[string]string{
		"10.0.0.0/8":     "Company network",
		"10.1.0.0/16":    "Head office, Berlin",
		"2001:db8::/32":  "Branch office (IPv6)",
		"203.0.113.0/24": "VPN",
	}, push.LocalLocator{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ ip, want string }{
		{"10.1.2.3", "Head office, Berlin"},
		{"10.2.0.1", "Company network"},
		{"::ffff:10.1.0.9", "Head office, Berlin"},
		{"2001:db8::1", "Branch office (IPv6)"},
		{"203.0.113.7", "VPN"},
		{"192.168.1.1", "Internal network"}, // fallback
		{"127.0.0.1", "Internal network"},
		{"8.8.8.8", ""},
		{"not an ip", ""},
		{"", ""},
	} {
		if got := n.Place(tt.ip); got != tt.want {
			t.Errorf("Place(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
	if _, err := push.NewNetworks(map[string]string{"10.0.0.0/33": "x"}, nil); err == nil {
		t.Error("bad CIDR accepted")
	}
}
