// Package schema is the SSPR plugin's migration history, recorded in its own
// table (latchkey_sspr_migrations) so the plugin can be mounted beside
// another application's schema. One file per owner; each migration
// declares frozen copies of its table structs so later changes to the live
// models never rewrite history.
package schema
