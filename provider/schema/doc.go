// Package schema holds the provider's versioned migrations. Each step
// declares frozen copies of its tables (never the live models), so the
// history stays valid while the code moves on. New steps are appended, never
// edited once released.
package schema
