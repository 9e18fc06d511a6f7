package main

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// loopbackOnly serves a route only to a client on this machine: the TCP
// peer (never X-Forwarded-For, which any client can write) must be a
// loopback address, and a request that a proxy forwarded for someone else
// is refused too. Dev mode's outbox shows every code it sends, so anyone
// who can read it can reset any account.
//
// Others get a plain 404, as if the page did not exist.
func loopbackOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !loopbackPeer(r.RemoteAddr) || forwardedForOther(r.Header) {
			return echo.ErrNotFound
		}
		return next(c)
	}
}

func loopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// forwardedForOther reports whether a proxy says it forwards the request
// for an address other than loopback (a reverse proxy on this machine
// relaying someone else's request).
func forwardedForOther(h http.Header) bool {
	var addrs []string
	for _, v := range h.Values("X-Forwarded-For") {
		addrs = append(addrs, strings.Split(v, ",")...)
	}
	addrs = append(addrs, h.Values("X-Real-Ip")...)
	for _, v := range h.Values("Forwarded") {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(k, "for") {
				addrs = append(addrs, strings.Trim(val, `"`))
			}
		}
	}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if h, _, err := net.SplitHostPort(a); err == nil {
			a = h
		}
		ip, err := netip.ParseAddr(strings.Trim(a, "[]"))
		if err != nil || !ip.Unmap().IsLoopback() {
			return true
		}
	}
	return false
}
