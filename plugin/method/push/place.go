package push

import "net/netip"

// Locator names the approximate place of a client IP for the device to
// show ("" when unknown). A deployment with a GeoIP database plugs one in.
type Locator interface {
	Place(ip string) string
}

// LocalLocator knows only what needs no database: loopback and private
// addresses are "your organisation's network"; others are unknown.
type LocalLocator struct{}

// Place implements Locator.
func (LocalLocator) Place(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() {
		return "Internal network"
	}
	return ""
}

// PlaceFunc adapts a function to Locator.
type PlaceFunc func(ip string) string

// Place implements Locator.
func (f PlaceFunc) Place(ip string) string { return f(ip) }
