package web

import (
	"fmt"
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// IPExtractor returns how to find the client address. With no trusted
// proxies the socket address is used and X-Forwarded-For is ignored
// entirely. With proxies, X-Forwarded-For is walked from the right and the
// first address that is not one of the proxies wins; an unparsable entry
// makes the whole header untrusted (echo falls back to the socket address).
// Echo's defaults trust every private, loopback and link-local address; we
// switch those off so only the configured CIDRs count.
func IPExtractor(trustedProxies []string) (echo.IPExtractor, error) {
	if len(trustedProxies) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, s := range trustedProxies {
		n, err := ParseCIDR(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}

// ParseCIDR accepts a CIDR or a single address (as a /32 or /128).
func ParseCIDR(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("web: trusted proxy %q is not an IP address or CIDR", s)
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("web: trusted proxy %q: %w", s, err)
	}
	return n, nil
}
