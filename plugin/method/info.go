package method

// Info is how a method presents itself to the pages, the policy and the
// tokens. The plugin reads it instead of switching over method names, so a
// new method is one package, one registry line and its templates.
type Info struct {
	// Rank orders methods on every page: the authenticator app (the
	// strongest) first, then phones, email and security questions.
	Rank int
	// AddTitle names the method in the "Add sign-in method" list.
	AddTitle string
	// Title words a recovery or step-up row. Titles maps a delivery
	// ("sms", "voice") to the row's words when the method offers a choice;
	// "" is the row for no particular delivery.
	Titles map[string]string
	// App marks an authenticator app (TOTP, push): an account with one
	// needs two proofs, and the add list groups apps under one entry.
	App bool
	// AMR is the RFC 8176 "amr" value of a proof by this method.
	AMR string
	// Masked: the enrollment's label is a masked address or number, worth
	// showing beside the row's title.
	Masked bool
	// Decoy: a stand-in of this method can be played for an unknown user
	// without sending anything or needing the user's own data.
	Decoy bool
	// DecoyLabel is what a decoy row of this method shows when the method
	// draws no label of its own (an app's name).
	DecoyLabel string
	// MailAddress: the destination is a mail address, so a decoy shows a
	// masked address drawn from the mail domains real users have.
	MailAddress bool
	// LapsedMessage, when set, is what the method list says after a
	// challenge of this method failed for good (a push denied, answered
	// with another number, or expired).
	LapsedMessage string
}

// Title returns the row's words for delivery ("" when the method has no
// choice), falling back to the row for no particular delivery.
func (i Info) Title(delivery string) string {
	if t, ok := i.Titles[delivery]; ok {
		return t
	}
	return i.Titles[""]
}
