package ui

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// maxLogoData bounds an inline logo: it travels with every page, whose
// whole weight should stay under 100 KB.
const maxLogoData = 32 << 10

// logoTypes are the image types an inline logo may have. SVG is safe in
// an img element (no script runs there), and the CSP allows none anyway.
var logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}

// LogoProblem says what is wrong with a logo address, "" when it may be
// shown: an inline base64 image, or a URL on the issuer's own origin. So
// the pages' CSP (img-src 'self' data:) stays as strict as it is, and no
// third party learns who opens the sign-in page.
func LogoProblem(v, issuer string) string {
	if v == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(v, "data:"); ok {
		typ, data, ok := strings.Cut(rest, ";base64,")
		switch {
		case !ok:
			return "a data: logo must be base64 (data:image/png;base64,...)"
		case !slices.Contains(logoTypes, typ):
			return "a data: logo must be PNG, JPEG, GIF, WebP or SVG (" + typ + ")"
		case len(data) > maxLogoData*4/3+4:
			return "an inline logo must be at most 32 KiB: every page carries it"
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			return "the data: logo is not valid base64"
		}
		return ""
	}
	u, err := url.Parse(v)
	iss, ierr := url.Parse(issuer)
	if err != nil || ierr != nil || u.User != nil || u.Scheme != iss.Scheme || u.Host != iss.Host || strings.ContainsAny(v, "\"'<> ") {
		return "must be a data:image URL or a URL on the issuer's origin (" + issuer + "/...), which the pages' CSP allows; serve the file beside Latchkey from your reverse proxy"
	}
	return ""
}
