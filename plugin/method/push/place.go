package push

import (
	"fmt"
	"net/netip"
	"slices"
)

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
		return InternalNetwork
	}
	return ""
}

// InternalNetwork is the place LocalLocator names; the device API marks it
// (Request.PlaceID) so the app says it in its own language.
const InternalNetwork = "Internal network"

// PlaceFunc adapts a function to Locator.
type PlaceFunc func(ip string) string

// Place implements Locator.
func (f PlaceFunc) Place(ip string) string { return f(ip) }

// Networks is a Locator for known networks (offices, VPN ranges), most
// specific prefix first, falling back to Fallback for other addresses.
type Networks struct {
	nets     []network
	Fallback Locator
}

type network struct {
	prefix netip.Prefix
	place  string
}

// NewNetworks parses "CIDR=place" pairs, e.g. "10.1.0.0/16=Head office,
// Berlin".
func NewNetworks(pairs map[string]string, fallback Locator) (*Networks, error) {
	n := &Networks{Fallback: fallback}
	for cidr, place := range pairs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("push: network %q: %w", cidr, err)
		}
		n.nets = append(n.nets, network{prefix: p.Masked(), place: cut(place, 200)})
	}
	slices.SortFunc(n.nets, func(a, b network) int { return b.prefix.Bits() - a.prefix.Bits() })
	return n, nil
}

// Place implements Locator.
func (n *Networks) Place(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap()
		for _, nw := range n.nets {
			if nw.prefix.Contains(a) {
				return nw.place
			}
		}
	}
	if n.Fallback != nil {
		return n.Fallback.Place(ip)
	}
	return ""
}
