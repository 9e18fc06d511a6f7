package phone

import (
	"fmt"
	"strconv"

	"github.com/nyaruka/phonenumbers"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// DecoyLabel is the masked number a decoy enrollment of this method shows
// (an unknown name gets a list shaped like a real user's): the dial code
// of the deployment's region and two last digits drawn from seed, so a
// decoy in a UK deployment does not stand out as "+1 …". The mask hides
// everything else, so the digits in between need not be real.
func (m *Method) DecoyLabel(seed []byte) string {
	cc := phonenumbers.GetCountryCodeForRegion(m.d.DefaultRegion)
	if cc == 0 {
		cc = 1
	}
	last := 0
	if len(seed) > 0 {
		last = int(seed[0]) % 100
	}
	return method.MaskPhone(fmt.Sprintf("+%d55501%02d", cc, last), len(strconv.Itoa(cc)))
}
