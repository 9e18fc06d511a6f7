// Package account changes who may act as a user, in one transaction: a
// password reset, an unlock, a disable, a delete or a plain "sign out
// everywhere" each revoke everything issued to the user before now.
//
// "Everything" is spread over stores that do not know one another: browser
// sessions (provider/session), authorization requests, codes and tokens
// (provider/opstore), and the recovery flows and challenges of the SSPR
// plugin. Each registers a Revoker when the program is composed; the
// Service opens the transaction, hands it to every Revoker and to the
// caller's own work, and commits once. A Revoker writes only its own
// tables with the transaction, so no package reaches into another's.
package account
