package chrometest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"
)

// Timeout bounds each wait: generous for a shared 2-core machine, short
// enough that a broken page fails the test instead of hanging it.
var Timeout = 45 * time.Second

// Required reports whether a missing browser must fail the test (CI).
func Required() bool { return os.Getenv("LATCHKEY_TEST_BROWSER") == "required" }

// execNames are the names Chromium goes by on Debian, Ubuntu and others.
var execNames = []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"}

func findChromium() string {
	for _, n := range execNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one Chromium process for a test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the browser's first tab, kept for its lifetime
}

// Option changes how the browser starts.
type Option func(*[]chromedp.ExecAllocatorOption)

// Trust makes Chromium accept the test server's certificate (and only
// it), so the pages are a secure context without certificate errors and
// service workers register as in production.
func Trust(cert *x509.Certificate) Option {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return func(o *[]chromedp.ExecAllocatorOption) {
		*o = append(*o, chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(sum[:])))
	}
}

// TrustTestServers is Trust for net/http/httptest's TLS servers: they all
// share one certificate, so trusting it once trusts every test server.
func TrustTestServers() Option {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	return Trust(srv.Certificate())
}

// JourneyTab starts Chromium trusting the test servers and opens one tab
// for a walk over many pages: its own profile, no cache, and always
// focused (so focus styles and keyboard events behave as for a person).
func JourneyTab(t testing.TB) *Tab {
	t.Helper()
	tab := Start(t, TrustTestServers()).NewDevice()
	tab.NoCache()
	tab.AlwaysFocused()
	return tab
}

// Start launches headless Chromium with a fresh profile; it stops when
// the test ends.
func Start(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	path := findChromium()
	if path == "" {
		msg := "chrometest: no Chromium on PATH (looked for " + strings.Join(execNames, ", ") +
			"); install it (apt-get install chromium) to run browser tests"
		if Required() {
			t.Fatal(msg + "; LATCHKEY_TEST_BROWSER=required")
		}
		t.Skip(msg + ", or set LATCHKEY_TEST_BROWSER=required to fail instead")
	}
	flags := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // containers and CI run as root
		chromedp.DisableGPU,
		// The machine has no internet: nothing may phone home.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Env("TZ=UTC", "LANGUAGE=en-US"),
	)
	for _, o := range opts {
		o(&flags)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chrometest: start %s: %v", path, err)
	}
	return &Browser{t: t, ctx: ctx}
}

// Tab is one page. It records what the console says, so a test can fail
// on script errors and CSP violations.
type Tab struct {
	t       testing.TB
	ctx     context.Context
	console *console
}

type console struct {
	mu       sync.Mutex
	problems []string
	serve    func(url string) StandIn
	served   []string
	workers  map[string]serviceworker.RegistrationID // scope → registration (DeliverPush)
}

// With returns the tab for use in test t (a subtest), so its failures
// stop t and not the test that opened the tab.
func (p *Tab) With(t testing.TB) *Tab { c := *p; c.t = t; return &c }

// NewTab opens a tab in the browser's default profile.
func (b *Browser) NewTab() *Tab { return b.open() }

// NewDevice opens a tab in a fresh browser context: its own cookies,
// IndexedDB and service workers, like another device or a private window.
func (b *Browser) NewDevice() *Tab { return b.open(chromedp.WithNewBrowserContext()) }

func (b *Browser) open(opts ...chromedp.ContextOption) *Tab {
	b.t.Helper()
	p := &Tab{t: b.t, console: &console{}}
	opts = append(opts, chromedp.WithListener(p.listen))
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	b.t.Cleanup(cancel)
	p.ctx = ctx
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		b.t.Fatalf("chrometest: new tab: %v", err)
	}
	return p
}

// listen runs in the tab's event loop: record, never block.
func (p *Tab) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *fetch.EventRequestPaused:
		p.console.mu.Lock()
		serve := p.console.serve
		p.console.served = append(p.console.served, ev.Request.URL)
		p.console.mu.Unlock()
		if serve == nil {
			return
		}
		// A listener must not run commands: answer from a goroutine.
		go func(id fetch.RequestID, url string) {
			r := serve(url)
			_, _ = chromedp.Call(p.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: id, ResponseCode: int64(r.Status),
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: r.ContentType}, {Name: "Access-Control-Allow-Origin", Value: "*"}},
				Body:            []byte(r.Body)})
		}(ev.RequestID, ev.Request.URL)
		return
	case *serviceworker.EventWorkerRegistrationUpdated:
		p.console.mu.Lock()
		if p.console.workers == nil {
			p.console.workers = map[string]serviceworker.RegistrationID{}
		}
		for _, r := range ev.Registrations {
			if r.IsDeleted {
				delete(p.console.workers, r.ScopeURL)
			} else {
				p.console.workers[r.ScopeURL] = r.RegistrationID
			}
		}
		p.console.mu.Unlock()
		return
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = "uncaught exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		msg += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber+1)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		msg = "console.error:"
		for _, a := range ev.Args {
			msg += " " + a.Description + string(a.Value)
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		// Network errors (the relying party's unreachable host, a 4xx the
		// test provokes) are the tests' business, not the page's.
		if e.Level != log.EntryLevelError || e.Source == log.EntrySourceNetwork {
			return
		}
		msg = string(e.Source) + ": " + e.Text
		if e.URL != "" {
			msg += " (" + e.URL + ")"
		}
	default:
		return
	}
	p.console.mu.Lock()
	p.console.problems = append(p.console.problems, msg)
	p.console.mu.Unlock()
}

// StandIn is the answer a tab gives itself for an intercepted request.
type StandIn struct {
	Status      int
	ContentType string
	Body        string
}

// Intercept answers every request of the tab whose URL matches one of
// patterns (Fetch wildcards: "https://js.hcaptcha.com/*") with serve(url),
// without any network: the machine has no internet, so a vendor's widget
// is played by the test. The request still passes the page's CSP first,
// so a policy that forbids the vendor's host blocks it before it gets
// here (and the console reports the violation).
func (p *Tab) Intercept(serve func(url string) StandIn, patterns ...string) {
	p.t.Helper()
	p.console.mu.Lock()
	p.console.serve = serve
	p.console.mu.Unlock()
	var ps []*fetch.RequestPattern
	for _, pat := range patterns {
		ps = append(ps, &fetch.RequestPattern{URLPattern: pat})
	}
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: ps}); err != nil {
		p.t.Fatalf("chrometest: intercept: %v", err)
	}
}

// Intercepted lists the URLs Intercept answered, in order.
func (p *Tab) Intercepted() []string {
	p.console.mu.Lock()
	defer p.console.mu.Unlock()
	return append([]string(nil), p.console.served...)
}

// Problems returns the script errors, CSP violations and other console
// errors seen so far.
func (p *Tab) Problems() []string {
	p.console.mu.Lock()
	defer p.console.mu.Unlock()
	return append([]string(nil), p.console.problems...)
}

// NoProblems fails the test if the console reported an error, such as a
// CSP violation or an uncaught exception.
func (p *Tab) NoProblems() {
	p.t.Helper()
	if pr := p.Problems(); len(pr) > 0 {
		p.t.Errorf("browser console:\n  %s", strings.Join(pr, "\n  "))
	}
}

func (p *Tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %s: %v\npage: %s\n%s", what, err, p.URL(), p.Text("body"))
	}
}

// Go navigates to url and waits for it to load.
func (p *Tab) Go(url string) {
	p.t.Helper()
	p.do("go to "+url, chromedp.Navigate(url))
}

// Click clicks the first element matching the CSS selector, with the
// mouse, once it is visible.
func (p *Tab) Click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// ClickText clicks the first element matching sel whose visible text
// contains text, such as a link or button by its words.
func (p *Tab) ClickText(sel, text string) {
	p.t.Helper()
	js := chromedp.JSPath(fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).find(function(e){return e.innerText.indexOf(%q)>=0})`, sel, text))
	p.do(fmt.Sprintf("click %s %q", sel, text), chromedp.WaitVisible(js), chromedp.Click(js))
}

// Type types text into the field matching sel (after what is there).
func (p *Tab) Type(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Clear empties the field matching sel (its value: chromedp.Clear resets
// the attribute, which a field the user typed in ignores).
func (p *Tab) Clear(sel string) {
	p.t.Helper()
	Eval[bool](p, fmt.Sprintf(`(function(){var e=document.querySelector(%q);e.value="";return true})()`, sel))
}

// Eval runs a JavaScript expression in the page and returns its value
// (promises are awaited).
func Eval[T any](p *Tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browser: eval %s: %v", expr, err)
	}
	return v
}

// text reads the visible text of the first element matching sel, "" if
// there is none or the page is between two documents.
func (p *Tab) text(ctx context.Context, sel string) (string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[string](
		fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.innerText:""})()`, sel)))
}

// Text returns the visible text of the first element matching sel ("" if
// none).
func (p *Tab) Text(sel string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := p.text(ctx, sel)
	return s
}

// Attr returns attribute name of the first element matching sel, waiting
// for the element to have it.
func (p *Tab) Attr(sel, name string) string {
	p.t.Helper()
	var v string
	p.WaitFor("attribute "+name+" of "+sel, func() bool {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		v, _ = chromedp.Run(ctx, chromedp.Evaluate[string](
			fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e&&e.getAttribute(%q)||""})()`, sel, name)))
		return v != ""
	})
	return v
}

// WaitText waits until the element matching sel shows text (as a
// substring of its visible text) and returns its whole visible text. It
// keeps polling across navigations, so it also waits for a page that a
// script or a form submission loads.
func (p *Tab) WaitText(sel, text string) string {
	p.t.Helper()
	deadline := time.Now().Add(Timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		s, err := p.text(ctx, sel)
		cancel()
		if err == nil && strings.Contains(s, text) {
			return s
		}
		if err == nil {
			last = s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("browser: waited %v for %q in %s; page %s shows:\n%s", Timeout, text, sel, p.URL(), last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitFor polls cond until it holds, failing the test after Timeout.
func (p *Tab) WaitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("browser: waited %v for %s; page %s shows:\n%s", Timeout, what, p.URL(), p.Text("body"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// URL is the address of the page the tab shows.
func (p *Tab) URL() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

// WaitURL waits until the tab went to an address starting with prefix and
// returns it; the address counts even when its page did not load (the
// relying party's redirect URI, which no test server answers).
func (p *Tab) WaitURL(prefix string) string {
	p.t.Helper()
	var u string
	p.WaitFor("a page at "+prefix, func() bool {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		h, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
		if err != nil || int(h.CurrentIndex) >= len(h.Entries) || h.CurrentIndex < 0 {
			return false
		}
		u = h.Entries[h.CurrentIndex].URL
		return strings.HasPrefix(u, prefix)
	})
	return u
}

// WithoutScripts turns the page's JavaScript off in this tab, as a
// browser with scripts disabled has it; the test's own Eval and Text
// still work. Call it before the first Go.
func (p *Tab) WithoutScripts() {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		p.t.Fatalf("chrometest: disable scripts: %v", err)
	}
}

// Reload reloads the page and waits for it to load.
func (p *Tab) Reload() {
	p.t.Helper()
	p.do("reload", chromedp.Reload())
}

// InstallabilityErrors lists why Chromium would not install the page as
// an app (manifest, icons, service worker); none for an installable PWA.
func (p *Tab) InstallabilityErrors() []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, Timeout)
	defer cancel()
	res, err := chromedp.Call(ctx, page.GetInstallabilityErrors, cdp.Empty{})
	if err != nil {
		p.t.Fatalf("browser: installability: %v", err)
	}
	var out []string
	for _, e := range res.InstallabilityErrors {
		s := e.ErrorID
		for _, a := range e.ErrorArguments {
			s += " " + a.Name + "=" + a.Value
		}
		out = append(out, s)
	}
	return out
}
