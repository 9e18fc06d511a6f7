// Package locales holds the message catalogs, one TOML file per area and
// language: <area>.<lang>.toml (for example signin.de.toml). English is the
// source; every other catalog has exactly its keys.
package locales

import "embed"

// FS holds every catalog file.
//
//go:embed *.toml
var FS embed.FS
