// Command spa serves the single-page app in index.html and is the small
// same-origin backend it needs today: Gatehouse does not send CORS headers,
// so the page cannot read responses of {issuer}/oauth/token, /oauth/userinfo
// and /oauth/revoke from another origin. This server forwards exactly those
// three endpoints from /gatehouse/oauth/... on the page's own origin to the
// issuer. It keeps no tokens and adds no credentials: the page still does
// PKCE and holds its (public client's) tokens.
//
//	ISSUER=http://localhost:8080/t/acme CLIENT_ID=... go run ./examples/spa
//
// then open the URL it prints (http://127.0.0.1:5173/?...).
package main

import (
	_ "embed"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

//go:embed index.html
var indexHTML []byte

func main() {
	issuer := env("ISSUER", "http://localhost:8080/t/acme")
	listen := env("LISTEN", "127.0.0.1:5173")
	target, err := url.Parse(issuer)
	if err != nil || target.Host == "" {
		log.Fatalf("ISSUER %q is not a URL", issuer)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(indexHTML)
	})
	forward := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		// /gatehouse/oauth/token -> {issuer}/oauth/token
		pr.SetURL(target)
		pr.Out.URL.Path = target.Path + pr.In.URL.Path[len("/gatehouse"):]
		pr.Out.URL.RawPath = ""
		pr.Out.Header.Del("Cookie") // this origin's cookies are not Gatehouse's business
	}}
	mux.Handle("POST /gatehouse/oauth/token", forward)
	mux.Handle("POST /gatehouse/oauth/revoke", forward)
	mux.Handle("GET /gatehouse/oauth/userinfo", forward)

	open := url.URL{Scheme: "http", Host: listen, Path: "/",
		RawQuery: url.Values{"issuer": {issuer}, "client_id": {os.Getenv("CLIENT_ID")}}.Encode()}
	log.Printf("spa: open %s", open.String())
	log.Fatal(http.ListenAndServe(listen, mux))
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
