package chrometest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// AxeEnv names the file of axe-core's axe.min.js (the npm package
// axe-core, which .ci/run installs into a cache directory).
const AxeEnv = "LATCHKEY_AXE"

// Axe reads axe-core from $LATCHKEY_AXE. Without it the test skips, unless
// browser tests are required (CI), where it fails.
func Axe(t testing.TB) string {
	t.Helper()
	path := os.Getenv(AxeEnv)
	src, err := os.ReadFile(path) // #nosec G304 G703 -- a test reads the file its environment names
	if path == "" || err != nil {
		msg := fmt.Sprintf("chrometest: no axe-core (set %s to axe.min.js of the npm package axe-core: npm install --prefix DIR axe-core; %v)", AxeEnv, err)
		if Required() {
			t.Fatal(msg + "; LATCHKEY_TEST_BROWSER=required")
		}
		t.Skip(msg)
	}
	return string(src)
}

// Violation is one axe-core rule a page breaks, with the elements that
// break it.
type Violation struct {
	ID, Impact, Help string
	Nodes            []string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
}

// AxeViolations runs axe-core (its source, from Axe) on the page and
// returns every violation of every rule it runs by default (WCAG 2.x A
// and AA and its best practices), and of WCAG 2.2's target size (24 px).
func (p *Tab) AxeViolations(src string) []Violation {
	p.t.Helper()
	if !Eval[bool](p, `typeof axe==="object"`) {
		Eval[bool](p, src+";true")
	}
	raw := Eval[string](p, `axe.run(document,{resultTypes:["violations"],rules:{"target-size":{enabled:true}}}).then(function(r){return JSON.stringify(r.violations.map(function(v){
		return {ID:v.id,Impact:v.impact||"",Help:v.help,Nodes:v.nodes.map(function(n){return n.target.join(" ")+": "+(n.failureSummary||"").replace(/\s+/g," ")})}}))})`)
	var out []Violation
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		p.t.Fatalf("chrometest: axe result: %v", err)
	}
	return out
}

// ColorScheme makes the page see prefers-color-scheme: dark (or light).
func (p *Tab) ColorScheme(dark bool) {
	p.t.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	p.call("color scheme "+v, func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return err
	})
}

// Viewport sets the window's size in CSS pixels; mobile also emulates a
// phone's touch screen.
func (p *Tab) Viewport(width, height int64, mobile bool) {
	p.t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	p.do(fmt.Sprintf("viewport %dx%d", width, height), chromedp.EmulateViewport(width, height, opts...))
}

// NoCache makes the tab load everything from the server, as a first
// visit does, so a page's weight counts all it needs.
func (p *Tab) NoCache() {
	p.t.Helper()
	p.call("disable the cache", func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	})
}

// AlwaysFocused makes the page behave as the focused window even when
// the headless browser has none, so focus styles apply as for a user.
func (p *Tab) AlwaysFocused() {
	p.t.Helper()
	p.call("focus emulation", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
}

// Screenshot is a PNG of the whole page, beyond the viewport.
func (p *Tab) Screenshot() []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("chrometest: screenshot: %v", err)
	}
	return png
}

// Cost is what a page took: the bytes of its document and of every
// resource it loaded (CSS, scripts, images), and the server's time to
// the first byte of the document (loopback, so nearly all of it is the
// server's).
type Cost struct {
	Bytes    int
	Files    int
	ServerMS float64
}

// PageCost reads the page's Resource Timing entries.
func (p *Tab) PageCost() Cost {
	p.t.Helper()
	raw := Eval[string](p, `(function(){var n=performance.getEntriesByType("navigation")[0];var b=n.encodedBodySize,f=1;
		performance.getEntriesByType("resource").forEach(function(r){b+=r.encodedBodySize;f++});
		return JSON.stringify({Bytes:b,Files:f,ServerMS:n.responseStart-n.requestStart})})()`)
	var c Cost
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		p.t.Fatalf("chrometest: page cost: %v", err)
	}
	return c
}

// PressTab presses the Tab key, moving the keyboard focus as a user does
// (so :focus-visible applies).
func (p *Tab) PressTab() {
	p.t.Helper()
	p.do("press Tab", chromedp.KeyEvent("\t"))
}

func (p *Tab) call(what string, fn func(ctx context.Context) error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		p.t.Fatalf("browser: %s: %v", what, err)
	}
}
