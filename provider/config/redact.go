package config

import (
	"net/url"
	"strings"

	"github.com/latchkeyid/latchkey/provider/db"
)

func redactURL(raw string) string {
	if raw == "" || strings.HasPrefix(raw, "sqlite://") {
		return raw
	}
	if strings.HasPrefix(raw, "mysql://") {
		r := db.Redact(raw)
		if r == raw && strings.Contains(raw, "@") && strings.Contains(strings.SplitN(raw, "@", 2)[0], ":") {
			return "mysql://xxxxx" // unparsable but has a password part: hide it all
		}
		return r
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "xxxxx"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
