// Package mail holds the templates of the messages Latchkey sends (one
// text/template and one html/template file per message, embedded) and
// renders them. Every link in a message is built from the issuer URL given
// at start-up with the "link" function, never from a request's Host
// (checklist 59).
package mail
