package smtptest

import (
	"encoding/base64"
	"io"
	"strings"
)

// base64Reader decodes a base64 body that is split into lines.
func base64Reader(r io.Reader) io.Reader {
	b, _ := io.ReadAll(r)
	clean := strings.NewReplacer("\r", "", "\n", "").Replace(string(b))
	return base64.NewDecoder(base64.StdEncoding, strings.NewReader(clean))
}
