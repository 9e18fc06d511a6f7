package phone

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
)

// Form fields read by the phone methods.
const (
	FieldPhone     = "phone"     // Begin: the number as typed
	FieldCountry   = "country"   // Begin: ISO 3166 region from the selector, for numbers without +CC
	FieldExtension = "extension" // Begin (office phone): digits dialled after the line answers
	FieldChannel   = "channel"   // Begin and ChallengeInput (mobile): "sms" or "voice"
	FieldDelivery  = "delivery"  // accepted as an alias of FieldChannel (the Security info form's name)
	FieldCode      = "code"      // Finish, Verify
)

// MaxInput is the longest number accepted as typed (spaces, dashes,
// brackets included).
const MaxInput = 40

// MaxExtension is the longest office extension.
const MaxExtension = twilio.MaxExtension

// Number is a parsed, validated phone number.
type Number struct {
	E164        string // +14155550142
	Region      string // ISO 3166 region of the number, "US"
	CountryCode int    // calling code, 1
	Type        phonenumbers.PhoneNumberType
}

// DialCode is the calling code as text ("1", "44").
func (n Number) DialCode() string { return strconv.Itoa(n.CountryCode) }

// Masked shows the calling code and the last two digits: +1 ••• ••• ••42.
func (n Number) Masked() string { return method.MaskPhone(n.E164, len(n.DialCode())) }

// Uses are what a number must be able to receive.
type Uses int

const (
	// Texts: the number receives SMS (mobile phone).
	Texts Uses = iota
	// Calls: the number is only called (alternate and office phone).
	Calls
)

// refused are number types never accepted: they cost the caller money
// (premium rate, shared cost, UAN, personal numbers), cannot take a code
// (pager, voicemail) or cannot be classified (unknown): the usual targets
// of SMS pumping and toll fraud.
var refused = map[phonenumbers.PhoneNumberType]string{
	phonenumbers.PREMIUM_RATE:    "invalid.phone.premium_rate",
	phonenumbers.SHARED_COST:     "invalid.phone.shared_cost",
	phonenumbers.PAGER:           "invalid.phone.pager",
	phonenumbers.UAN:             "invalid.phone.uan",
	phonenumbers.PERSONAL_NUMBER: "invalid.phone.personal",
	phonenumbers.VOICEMAIL:       "invalid.phone.voicemail",
	phonenumbers.UNKNOWN:         "invalid.phone.unknown_type",
}

// Parse reads a number as typed. A number starting with + (or 00) carries
// its own country code; otherwise it is read in country (the selector),
// or defaultRegion when none was chosen. The number must be valid for its
// region, of a type that can receive uses, and of a region in allowed
// (empty: any). Errors are *method.InvalidError on FieldPhone or
// FieldCountry with a reason to show.
func Parse(typed, country, defaultRegion string, uses Uses, allowed []string) (Number, error) {
	s := strings.TrimSpace(typed)
	if s == "" {
		return Number{}, method.Invalid(FieldPhone, "invalid.phone.empty")
	}
	if len(s) > MaxInput || strings.ContainsAny(s, "\r\n\t") {
		return Number{}, method.Invalid(FieldPhone, "invalid.phone.shape")
	}
	region := strings.ToUpper(strings.TrimSpace(country))
	if region == "" {
		region = strings.ToUpper(defaultRegion)
	}
	if !phonenumbers.GetSupportedRegions()[region] {
		return Number{}, method.Invalid(FieldCountry, "invalid.phone.choose_country")
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return Number{}, method.Invalid(FieldPhone, "invalid.phone.number")
	}
	if num.GetExtension() != "" {
		return Number{}, method.Invalid(FieldPhone, "invalid.phone.extension_inline")
	}
	n := Number{E164: phonenumbers.Format(num, phonenumbers.E164), Region: phonenumbers.GetRegionCodeForNumber(num),
		CountryCode: int(num.GetCountryCode()), Type: phonenumbers.GetNumberType(num)}
	if why, bad := refused[n.Type]; bad {
		return Number{}, method.Invalid(FieldPhone, why)
	}
	if uses == Texts {
		switch n.Type {
		case phonenumbers.FIXED_LINE:
			return Number{}, method.Invalid(FieldPhone, "invalid.phone.landline")
		case phonenumbers.TOLL_FREE:
			return Number{}, method.Invalid(FieldPhone, "invalid.phone.toll_free")
		}
	}
	if len(allowed) > 0 && !slices.Contains(allowed, n.Region) {
		return Number{}, method.Invalid(FieldPhone, "invalid.phone.country")
	}
	return n, nil
}

// ParseE164 reads back a stored number (no type or allowlist checks: the
// number was checked when it was registered).
func ParseE164(e164 string) (Number, error) {
	num, err := phonenumbers.Parse(e164, "ZZ")
	if err != nil || !strings.HasPrefix(e164, "+") {
		return Number{}, fmt.Errorf("phone: bad stored number: %w", method.ErrInvalid)
	}
	return Number{E164: phonenumbers.Format(num, phonenumbers.E164), Region: phonenumbers.GetRegionCodeForNumber(num),
		CountryCode: int(num.GetCountryCode()), Type: phonenumbers.GetNumberType(num)}, nil
}

// ParseExtension checks an office extension: digits only (spaces and
// dashes people type are dropped), at most MaxExtension.
func ParseExtension(typed string) (string, error) {
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(typed))
	if len(s) > MaxExtension {
		return "", method.Invalid(FieldExtension, "invalid.extension.long", "Max", MaxExtension)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", method.Invalid(FieldExtension, "invalid.extension.digits")
		}
	}
	return s, nil
}

// Country is one entry of the country selector.
type Country struct {
	Region string // "US"
	Name   string // "United States"
	Dial   string // "+1"
}

// Countries lists the selector's entries: the regions of allowed (every
// region phonenumbers knows when allowed is empty), by English name.
func Countries(allowed []string) []Country {
	regions := allowed
	if len(regions) == 0 {
		for r := range phonenumbers.GetSupportedRegions() {
			regions = append(regions, r)
		}
	}
	names := display.English.Regions()
	var out []Country
	for _, r := range regions {
		cc := phonenumbers.GetCountryCodeForRegion(r)
		if cc == 0 {
			continue
		}
		name := r
		if reg, err := language.ParseRegion(r); err == nil {
			if n := names.Name(reg); n != "" {
				name = n
			}
		}
		out = append(out, Country{Region: r, Name: name, Dial: "+" + strconv.Itoa(cc)})
	}
	slices.SortFunc(out, func(a, b Country) int { return strings.Compare(a.Name, b.Name) })
	return out
}
