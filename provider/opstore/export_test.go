package opstore

// WriterStatements are the token path's hand-written statements that
// look rows up (run by db.Writer, so GORM's logger never sees them).
var WriterStatements = []string{sqlUseRefreshToken, sqlRevokeAccessOfRefresh, sqlConsumeAuthRequest, sqlClaimCode}
