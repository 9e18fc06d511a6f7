package provider_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// directClients returns one client per instance of s: client i reaches
// instance i alone at the issuer's address, the way a load balancer's
// backend connection would.
func directClients(t *testing.T, s *pt.Server) []*http.Client {
	t.Helper()
	direct := make([]*http.Client, len(s.Instances))
	for i, in := range s.Instances {
		srv := httptest.NewTLSServer(in.Handler)
		t.Cleanup(srv.Close)
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}
		direct[i] = &http.Client{Transport: tr}
	}
	return direct
}
