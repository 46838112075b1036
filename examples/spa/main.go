// Command spa serves the single-page app in index.html on the origin of its
// registered redirect URI. The page talks to Gatehouse directly: Gatehouse
// lets that origin read the token, userinfo and revocation answers (CORS).
//
//	ISSUER=http://localhost:8080/t/acme CLIENT_ID=... go run ./examples/spa
//
// then open the URL it prints (http://127.0.0.1:5173/?...).
package main

import (
	_ "embed"
	"log"
	"net/http"
	"net/url"
	"os"
)

//go:embed index.html
var indexHTML []byte

func main() {
	issuer := env("ISSUER", "http://localhost:8080/t/acme")
	listen := env("LISTEN", "127.0.0.1:5173")
	if u, err := url.Parse(issuer); err != nil || u.Host == "" {
		log.Fatalf("ISSUER %q is not a URL", issuer)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(indexHTML)
	})

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
