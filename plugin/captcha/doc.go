// Package captcha guards the recovery start form. Verifiers: builtin (an
// image with an audio alternative, github.com/dchest/captcha, its state kept
// in the database so it works across instances, once, and only for the form
// instance it was made for), hcaptcha and turnstile (their siteverify APIs),
// and off (dev mode only; cmd refuses it otherwise).
package captcha
