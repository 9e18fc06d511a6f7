package matching

import "testing"

// The dictionaries are built by the first match, once, not when the
// package is initialised.
func TestDictionariesBuiltOnFirstUse(t *testing.T) {
	if n := dictionariesBuilt.Load(); n != 0 {
		t.Fatalf("built %d times before any match", n)
	}
	for _, pw := range []string{"password", "correcthorse"} {
		if len(Omnimatch(pw, nil)) == 0 {
			t.Errorf("%q: no match", pw)
		}
	}
	if n := dictionariesBuilt.Load(); n != 1 {
		t.Errorf("built %d times, want once", n)
	}
}
