package providertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// Browser is a cookie-keeping HTTP client that follows redirects only
// within the provider and stops at the first redirect elsewhere (the
// relying party's redirect_uri), like a real browser whose next hop is an
// app we do not run.
type Browser struct {
	t      testing.TB
	srv    *Server
	Client *http.Client
	Jar    *cookiejar.Jar
	// UserAgent and Header are sent with every request (e.g. X-Forwarded-For).
	Header http.Header
	// Stop, when set, ends a navigation before a redirect to a URL of the
	// provider it returns true for (Result.Redirect holds that URL).
	Stop func(*url.URL) bool
}

// Page is a fetched HTML page.
type Page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
	Doc    *goquery.Document
}

// NewBrowser returns a fresh browser (empty cookie jar).
func (s *Server) NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Transport: s.HTTP.Client().Transport,
		Jar:       jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &Browser{t: t, srv: s, Client: c, Jar: jar, Header: http.Header{}}
}

// Do sends one request without following redirects.
func (b *Browser) Do(method, rawURL string, form url.Values) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	res, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("browser: %s %s: %v", method, rawURL, err)
	}
	return res
}

// Result is where a navigation ended: either a page of the provider or a
// redirect to somewhere else (Location holds it).
type Result struct {
	Page     *Page
	Redirect *url.URL // set when the chain left the provider
	// Statuses of every hop, in order (to check 303 vs 307).
	Statuses []int
}

// Navigate performs method on rawURL and follows redirects within the
// provider.
func (b *Browser) Navigate(method, rawURL string, form url.Values) *Result {
	b.t.Helper()
	r := &Result{}
	for range 20 {
		res := b.Do(method, rawURL, form)
		r.Statuses = append(r.Statuses, res.StatusCode)
		if res.StatusCode >= 300 && res.StatusCode < 400 {
			_ = res.Body.Close()
			loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
			if err != nil {
				b.t.Fatalf("browser: bad Location %q", res.Header.Get("Location"))
			}
			if !b.srv.Owns(loc) || (b.Stop != nil && b.Stop(loc)) {
				r.Redirect = loc
				return r
			}
			if res.StatusCode != http.StatusTemporaryRedirect && res.StatusCode != http.StatusPermanentRedirect {
				method, form = http.MethodGet, nil
			}
			rawURL = loc.String()
			continue
		}
		r.Page = readPage(b.t, res)
		return r
	}
	b.t.Fatal("browser: too many redirects")
	return nil
}

// Get navigates to rawURL.
func (b *Browser) Get(rawURL string) *Result {
	b.t.Helper()
	return b.Navigate(http.MethodGet, rawURL, nil)
}

func readPage(t testing.TB, res *http.Response) *Page {
	t.Helper()
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("browser: read: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("browser: parse: %v", err)
	}
	return &Page{URL: res.Request.URL, Status: res.StatusCode, Header: res.Header, Body: string(raw), Doc: doc}
}

// Submit fills the form selected by sel on p with values (over the form's
// own fields, hidden ones like csrf included) and submits it the way a
// browser would.
func (b *Browser) Submit(p *Page, sel string, values map[string]string) *Result {
	b.t.Helper()
	form := p.Doc.Find(sel).First()
	if form.Length() == 0 {
		b.t.Fatalf("browser: no form %q on %s:\n%s", sel, p.URL, p.Body)
	}
	data := url.Values{}
	form.Find("input").Each(func(_ int, in *goquery.Selection) {
		name, ok := in.Attr("name")
		if !ok {
			return
		}
		switch typ, _ := in.Attr("type"); typ {
		case "checkbox":
			// As a browser does: a checked box sends its value ("on"
			// without one); values may uncheck it with "".
			if _, checked := in.Attr("checked"); checked {
				data.Set(name, in.AttrOr("value", "on"))
			}
			return
		case "submit", "button", "radio":
			return
		}
		v, _ := in.Attr("value")
		data.Set(name, v)
	})
	for k, v := range values {
		data.Set(k, v)
	}
	action, _ := form.Attr("action")
	target, err := p.URL.Parse(action)
	if err != nil {
		b.t.Fatalf("browser: form action %q: %v", action, err)
	}
	method := strings.ToUpper(form.AttrOr("method", "GET"))
	return b.Navigate(method, target.String(), data)
}

// SignIn types username and password into the sign-in page p.
func (b *Browser) SignIn(p *Page, username, password string) *Result {
	b.t.Helper()
	return b.Submit(p, `form[action="/login"]`, map[string]string{"username": username, "password": password})
}

// Cookie returns the named cookie the browser holds for the provider.
func (b *Browser) Cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.srv.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Text returns the visible text of sel on p, whitespace-collapsed.
func (p *Page) Text(sel string) string {
	return strings.Join(strings.Fields(p.Doc.Find(sel).Text()), " ")
}

func (r *Result) String() string {
	if r.Redirect != nil {
		return fmt.Sprintf("redirect to %s (hops %v)", r.Redirect, r.Statuses)
	}
	return fmt.Sprintf("page %s %d (hops %v)", r.Page.URL, r.Page.Status, r.Statuses)
}
