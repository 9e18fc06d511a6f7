// Package config holds Latchkey's configuration: every LATCHKEY_* variable of
// DESIGN.md plus the provider's tuning knobs, read from (highest first)
// command-line flags, environment variables, an optional YAML file given with
// --config, and built-in defaults.
//
// Flags carry the variable's name without the LATCHKEY_ prefix, lower-case
// with dashes (LATCHKEY_SMTP_URL is --smtp-url); YAML keys may be written
// either way (smtp-url, smtp_url or LATCHKEY_SMTP_URL).
//
// Validate checks a Config without changing it and reports every problem at
// once, so an operator fixes a broken deployment in one round.
package config
