package chrometest

import "github.com/chromedp/chromedp"

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
