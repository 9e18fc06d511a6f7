// Package method is the contract every SSPR verification method implements
// (email, authenticator app, security questions; phones and push later),
// the registry of enabled methods built in cmd, the store of users'
// enrollments (sspr_methods) and the one-time-code engine shared by the
// possession methods (sspr_challenges).
//
// A Method never decides where a code goes from anything in a request: the
// destination is fixed when the enrollment is proven and only read back from
// the stored, sealed enrollment (GitLab CVE-2023-7028).
//
// methodtest/ holds the behaviour kit every method passes.
package method
