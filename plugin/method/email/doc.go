// Package email is the email verification method: an address (which may
// differ from the account's) proven at registration by a code sent to it,
// then used for one-time codes at recovery. The address is stored sealed in
// the enrollment; a challenge sends only to that stored address, and
// nothing in a request can change the recipient (GitLab CVE-2023-7028).
package email
