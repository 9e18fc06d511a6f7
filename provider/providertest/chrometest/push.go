package chrometest

import (
	"context"
	"net/url"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"
)

// DeliverPush plays a push service: it allows the tab's site to show
// notifications (as a person who said yes) and delivers data as a Web
// Push message to the service worker registered for scope (a URL ending
// in "/"), waiting for that registration. The worker's push handler runs
// as on a phone; read what it showed with ServiceWorkerRegistration's
// getNotifications through Eval.
func (p *Tab) DeliverPush(scope, data string) {
	p.t.Helper()
	u, err := url.Parse(scope)
	if err != nil {
		p.t.Fatalf("chrometest: push scope %q: %v", scope, err)
	}
	origin := u.Scheme + "://" + u.Host
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted,
		Origin: origin, BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID,
	}); err != nil {
		p.t.Fatalf("chrometest: allow notifications: %v", err)
	}
	// Enabling the domain reports the registrations there are.
	if _, err := chromedp.Call(ctx, serviceworker.Enable, cdp.Empty{}); err != nil {
		p.t.Fatalf("chrometest: service workers: %v", err)
	}
	var id serviceworker.RegistrationID
	for id == "" {
		p.console.mu.Lock()
		id = p.console.workers[scope]
		p.console.mu.Unlock()
		if id != "" {
			break
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("chrometest: no service worker registered for %s", scope)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := chromedp.Call(ctx, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
		Origin: origin, RegistrationID: id, Data: data,
	}); err != nil {
		p.t.Fatalf("chrometest: deliver push: %v", err)
	}
}
