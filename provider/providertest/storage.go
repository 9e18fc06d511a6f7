package providertest

import (
	"testing"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/session"
)

// newKeysAndStore is newStorage's storage without registering clients
// (they are in the database already).
func (s *Server) newKeysAndStore(t testing.TB) (*keys.Manager, *opstore.Storage) {
	km := keys.New(s.DB, s.Keyring, keys.WithClock(s.Clock.Now))
	if err := km.Ensure(t.Context()); err != nil {
		t.Fatalf("providertest: keys: %v", err)
	}
	return km, opstore.New(s.DB, s.Keyring, km, s.Users, opstore.WithClock(s.Clock.Now),
		opstore.WithSessions(session.NewStore(s.DB, session.WithClock(s.Clock.Now))))
}

// newStorage builds the real GORM OP storage with signing keys for both
// algorithms; the first one also registers the test clients.
func newStorage(t testing.TB, s *Server, first bool) provider.Storage {
	t.Helper()
	ctx := t.Context()
	km := keys.New(s.DB, s.Keyring, keys.WithClock(s.Clock.Now))
	s.instanceKeys = append(s.instanceKeys, km)
	if err := km.Ensure(ctx); err != nil {
		t.Fatalf("providertest: keys: %v", err)
	}
	st := opstore.New(s.DB, s.Keyring, km, s.Users, opstore.WithClock(s.Clock.Now),
		opstore.WithSessions(session.NewStore(s.DB, session.WithClock(s.Clock.Now))))
	if !first {
		return st // another instance: same database, its own caches
	}
	s.Keys = km
	s.OPStore = st
	clients := []opstore.NewClient{
		{ID: WebClient, Name: "Web App", Secret: WebSecret, RedirectURIs: []string{WebRedirect}, PostLogoutRedirectURIs: []string{WebPostLogout}},
		{ID: PublicClient, Name: "Single Page App", Public: true, RedirectURIs: []string{PublicRedirect}},
		{ID: ThirdPartyClient, Name: "Partner Portal", Secret: ThirdPartySecret, ThirdParty: true, RedirectURIs: []string{ThirdPartyRedirect}},
		{ID: ES256Client, Name: "EC App", Secret: ES256Secret, IDTokenAlg: "ES256", RedirectURIs: []string{ES256Redirect}},
		{ID: ServiceClient, Name: "Backend Service", Secret: ServiceSecret, GrantTypes: []string{opstore.GrantClientCredentials}},
	}
	for _, c := range clients {
		if _, _, err := st.CreateClient(ctx, c); err != nil {
			t.Fatalf("providertest: client %s: %v", c.ID, err)
		}
	}
	return st
}
