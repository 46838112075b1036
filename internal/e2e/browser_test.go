package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so a test can step through a login like a browser would and
// stop at the client's redirect URI.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	Status   int
	Location string
	Body     string
	URL      *url.URL
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body), URL: req.URL}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// follow GETs redirects until one leaves the server at base (the client's
// redirect URI) or a page is shown.
func (b *browser) follow(start, base string) page {
	b.t.Helper()
	p := b.get(start)
	for i := 0; i < 10 && p.Status/100 == 3; i++ {
		next, err := p.URL.Parse(p.Location)
		if err != nil {
			b.t.Fatal(err)
		}
		if !strings.HasPrefix(next.String(), base) {
			return p
		}
		p = b.get(next.String())
	}
	return p
}

// form is an HTML form: its action and its fields' current values.
type form struct {
	Action string
	Fields url.Values
}

// forms parses the forms of a page.
func forms(t *testing.T, p page) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		t.Fatal(err)
	}
	var out []form
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				action := attr("action")
				u, err := p.URL.Parse(action)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, form{Action: u.String(), Fields: url.Values{}})
				cur = &out[len(out)-1]
			case "input":
				if cur != nil && attr("name") != "" && attr("type") != "submit" {
					cur.Fields.Set(attr("name"), attr("value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// submit posts a form with extra values, as a same-origin browser would.
func (b *browser) submit(f form, set url.Values) page {
	b.t.Helper()
	vals := url.Values{}
	for k, v := range f.Fields {
		vals[k] = v
	}
	for k, v := range set {
		vals[k] = v
	}
	req, err := http.NewRequest("POST", f.Action, strings.NewReader(vals.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(f.Action)
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// login drives the login page (and the consent page, answering consent,
// if shown) from an authorization URL to the redirect back to the client,
// and returns that redirect's query.
func (b *browser) login(authURL, base, username, password, consent string) url.Values {
	b.t.Helper()
	p := b.follow(authURL, base)
	if p.Status == http.StatusOK && strings.HasSuffix(p.URL.Path, "/login") {
		p = b.submitFirst(p, url.Values{"username": {username}, "password": {password}}, base)
	}
	if p.Status == http.StatusOK && strings.HasSuffix(p.URL.Path, "/consent") {
		if consent == "" {
			b.t.Fatal("unexpected consent page")
		}
		p = b.submitFirst(p, url.Values{"decision": {consent}}, base)
	}
	return b.clientRedirect(p, base)
}

// submitFirst submits a page's first form and follows the redirects.
func (b *browser) submitFirst(p page, set url.Values, base string) page {
	b.t.Helper()
	fs := forms(b.t, p)
	if len(fs) == 0 {
		b.t.Fatalf("no form on %s: %d %.300s", p.URL, p.Status, p.Body)
	}
	p = b.submit(fs[0], set)
	if p.Status != http.StatusSeeOther {
		return p
	}
	next, err := p.URL.Parse(p.Location)
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(next.String(), base) {
		return p
	}
	return b.follow(next.String(), base)
}

// clientRedirect asserts p redirects away from the server and returns the
// redirect's query.
func (b *browser) clientRedirect(p page, base string) url.Values {
	b.t.Helper()
	if p.Status/100 != 3 {
		b.t.Fatalf("expected a redirect to the client, got %d at %s: %.400s", p.Status, p.URL, p.Body)
	}
	loc, err := p.URL.Parse(p.Location)
	if err != nil {
		b.t.Fatal(err)
	}
	if strings.HasPrefix(loc.String(), base) {
		b.t.Fatalf("still on the server: %s", loc)
	}
	return loc.Query()
}
