// Package authenticator is the client side of the Latchkey Authenticator,
// used by the `latchkey authenticator` command (and by tests as a real
// device holding its own key): enroll with a one-time link, wait for
// pending sign-in requests, approve or deny them with a signature of the
// device key, and show TOTP codes of stored otpauth:// accounts.
//
// The state (device keys and TOTP seeds) is a JSON file readable only by
// its owner (mode 0600); it is the device.
package authenticator
