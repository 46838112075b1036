package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// Credentials locate the server and the admin client (admin.json).
type Credentials struct {
	Server       string `json:"server"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	TokenURL     string `json:"token_url,omitempty"`
}

// Client calls the admin API with a client-credentials token of the system
// tenant, fetched on first use and renewed when it expires.
type Client struct {
	server string
	http   *http.Client
}

// NewClient builds a client for creds.
func NewClient(ctx context.Context, creds Credentials) *Client {
	server := strings.TrimRight(creds.Server, "/")
	tokenURL := creds.TokenURL
	if tokenURL == "" {
		tokenURL = oidc.Issuer(server, tenant.System) + oidc.PathToken
	}
	base := &http.Client{Timeout: 30 * time.Second}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, base)
	cc := clientcredentials.Config{
		ClientID:       creds.ClientID,
		ClientSecret:   creds.ClientSecret,
		TokenURL:       tokenURL,
		EndpointParams: url.Values{"audience": {Audience}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	hc := cc.Client(ctx)
	hc.Timeout = 30 * time.Second
	return &Client{server: server, http: hc}
}

// Error is a failed admin API call.
type Error struct {
	Status  int
	Problem Problem
}

func (e *Error) Error() string {
	if e.Problem.Detail != "" {
		return e.Problem.Detail
	}
	return fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
}

// Do sends in (if not nil) as JSON and decodes the response into out (if not
// nil). A non-2xx answer is an *Error with the server's problem document.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return fmt.Errorf("cannot get an admin token from %s: %s %s", c.server, re.ErrorCode, re.ErrorDescription)
		}
		return fmt.Errorf("cannot reach %s: %w", c.server, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(data, &e.Problem)
		return e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	return json.Unmarshal(data, out)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
