package chrometest

import (
	"fmt"

	"github.com/chromedp/chromedp"
)

// Viewport sizes the tab's window like a device of width x height CSS
// pixels (mobile: a phone's touch screen in portrait).
func (p *Tab) Viewport(width, height int64, mobile bool) {
	p.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	p.do(fmt.Sprintf("viewport %dx%d", width, height), chromedp.EmulateViewport(width, height, opts...))
}
