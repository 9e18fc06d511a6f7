// Package smtp is the email sender: multipart (plain text + HTML) messages
// through github.com/wneessen/go-mail, configured from LATCHKEY_SMTP_URL:
//
//	smtp://user:pass@host:port?from=addr[&starttls=required|opportunistic|none][&auth=plain|login|auto]
//	smtps://user:pass@host:port?from=addr      (implicit TLS, port 465 by default)
//
// STARTTLS defaults to required, except for a loopback host (a local relay
// or a test catcher), where it is opportunistic. smtptest/ is a real SMTP
// server on loopback (github.com/emersion/go-smtp) that tests read codes
// from.
package smtp
