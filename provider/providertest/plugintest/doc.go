// Package plugintest starts the real provider (provider/providertest) with
// the SSPR plugin mounted and every method registered, for the plugin's
// and the methods' end-to-end tests: phones through the Twilio-compatible
// server on loopback (twiliotest), mail through a real SMTP catcher or an
// outbox, the built-in CAPTCHA with a Solve helper, a test authenticator
// device for push, and the common page walks (sign in through an app,
// start a recovery, step up with TOTP).
//
// It is imported only by tests. It composes the provider and the plugin as
// cmd does, so it lives beside providertest rather than under plugin/:
// nothing under plugin/ may depend on the provider root or zitadel.
package plugintest
