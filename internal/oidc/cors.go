package oidc

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-id/gatehouse/internal/app"
)

// CORS (Fetch standard) for browser apps (R-APP-1 spa):
//
//   - discovery, JWKS and the signer certificate are public documents: any
//     origin may read them;
//   - the token, revocation and UserInfo endpoints answer a preflight for any
//     origin (a preflight grants nothing), but the actual response is
//     readable only by an origin of one of the client's registered redirect
//     URIs. No cookies are involved: credentials mode stays off.

// corsPublic lets any origin read a public document.
func corsPublic(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h(w, r)
	}
}

// preflight answers a CORS preflight for a client-authenticated endpoint.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); validOrigin(o) {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowOrigin lets the request's origin read the response if it is an
// origin of one of the app's registered redirect URIs.
func allowOrigin(w http.ResponseWriter, r *http.Request, a *app.App) {
	o := r.Header.Get("Origin")
	w.Header().Add("Vary", "Origin")
	if o == "" || a == nil {
		return
	}
	for _, list := range [][]string{a.RedirectURIs, a.PostLogoutRedirectURIs} {
		for _, ru := range list {
			if originOf(ru) == o {
				w.Header().Set("Access-Control-Allow-Origin", o)
				return
			}
		}
	}
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func validOrigin(o string) bool {
	return o != "" && len(o) <= 512 && originOf(o) == o && !strings.ContainsAny(o, "\r\n")
}
