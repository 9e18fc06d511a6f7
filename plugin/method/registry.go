package method

import (
	"fmt"
	"slices"
)

// Registry holds the methods this deployment can offer. It is built once in
// cmd (no init-time registration) and read-only afterwards.
type Registry struct {
	byName map[Name]Method
	order  []Name
}

// NewRegistry returns a registry of ms, in display order. Two methods with
// one name are a wiring bug and fail.
func NewRegistry(ms ...Method) (*Registry, error) {
	r := &Registry{byName: map[Name]Method{}}
	for _, m := range ms {
		if _, dup := r.byName[m.Name()]; dup {
			return nil, fmt.Errorf("method: registry: %q registered twice", m.Name())
		}
		if err := checkInfo(m.Describe()); err != nil {
			return nil, fmt.Errorf("method: registry: %q: %w", m.Name(), err)
		}
		r.byName[m.Name()] = m
		r.order = append(r.order, m.Name())
	}
	return r, nil
}

// Get returns the method called name.
func (r *Registry) Get(name Name) (Method, bool) {
	m, ok := r.byName[name]
	return m, ok
}

// Names lists the available methods, in display order.
func (r *Registry) Names() []Name { return slices.Clone(r.order) }

// Enabled returns the available methods whose names are in names (the
// policy's list), in the registry's order.
func (r *Registry) Enabled(names []string) []Method {
	var out []Method
	for _, n := range r.order {
		if slices.Contains(names, string(n)) {
			out = append(out, r.byName[n])
		}
	}
	return out
}

// rfc8176 lists the registered "amr" values (RFC 8176 section 2).
var rfc8176 = []string{"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pwd", "rba",
	"retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"}

// checkInfo refuses a description the pages could not show: a method
// without words, or an amr value outside RFC 8176 (relying parties match
// on them).
func checkInfo(i Info) error {
	switch {
	case i.AddTitle == "" || i.Title("") == "":
		return fmt.Errorf("describe: no title")
	case !slices.Contains(rfc8176, i.AMR):
		return fmt.Errorf("describe: amr %q is not an RFC 8176 value", i.AMR)
	}
	return nil
}
