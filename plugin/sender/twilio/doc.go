// Package twilio delivers text messages and voice calls through a
// Twilio-compatible REST API (Twilio itself, or any gateway that speaks its
// 2010-04-01 API): SMS through the Messages resource, calls through the
// Calls resource with inline TwiML that says the text twice, and an office
// extension dialled with SendDigits once the line answers.
//
// A failed request (timeout, refused connection, 3xx, 4xx, 5xx) becomes a
// *GatewayError that carries the HTTP status and Twilio's numeric error
// code only: the gateway's response body never reaches logs or users, and
// the Basic credentials are never sent to a redirect target.
package twilio
