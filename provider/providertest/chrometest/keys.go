package chrometest

import (
	"context"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Keys types keys into whatever has the focus, as a keyboard does: "\t"
// is Tab, "\r" Enter, " " Space (kb constants work too).
func (p *Tab) Keys(keys string) {
	p.t.Helper()
	p.do("press keys", chromedp.KeyEvent(keys))
}

// Focused describes the element with the focus: its id, else its tag
// name in lower case.
func (p *Tab) Focused() string {
	p.t.Helper()
	return Eval[string](p, `(function(){var e=document.activeElement;return e?(e.id||e.tagName.toLowerCase()):""})()`)
}

// Back goes back one page in the tab's history, as the Back button does.
func (p *Tab) Back() {
	p.t.Helper()
	p.do("go back", chromedp.NavigateBack())
}

// Holds evaluates a boolean JavaScript expression in the page; false
// when it does not hold or the page is between two documents (so a wait
// on it survives a navigation).
func (p *Tab) Holds(expr string) bool {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
	return err == nil && v
}

// Language makes the tab send Accept-Language: tags on every request, as
// a browser set to that language does.
func (p *Tab) Language(tags string) {
	p.t.Helper()
	p.call("accept language "+tags, func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": tags}})
		return err
	})
}

// ClearCookies forgets every cookie of the tab's browser context, so the
// next page is a stranger's first visit (cookies ignore ports: two test
// servers on one host would otherwise share them).
func (p *Tab) ClearCookies() {
	p.t.Helper()
	p.call("clear cookies", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
		return err
	})
}
