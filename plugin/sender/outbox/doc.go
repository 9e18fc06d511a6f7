// Package outbox is the development and test sender: it keeps every
// message in memory instead of delivering it, serves them on the
// /dev/outbox page (dev mode only; cmd mounts Handler only with --dev), and
// doubles as the recorder tests read codes from.
package outbox
