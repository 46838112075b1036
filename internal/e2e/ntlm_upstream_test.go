package e2e

// A loopback upstream that authenticates with NTLM (NTLMv2 only), written
// from Microsoft's specification MS-NLMP, for the tests of issue 11,
// R-INT-2 (NTLM). It plays the server side of the connection-oriented
// HTTP NTLM exchange (as IIS does) and verifies every AUTHENTICATE_MESSAGE
// cryptographically: it never accepts a handshake blindly.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/Azure/go-ntlmssp"
	"golang.org/x/crypto/md4"
)

// NEGOTIATE flags (MS-NLMP §2.2.2.5) this server uses or looks at.
const (
	ntlmFlagUnicode          uint32 = 0x00000001 // NTLMSSP_NEGOTIATE_UNICODE
	ntlmFlagRequestTarget    uint32 = 0x00000004 // NTLMSSP_REQUEST_TARGET
	ntlmFlagNTLM             uint32 = 0x00000200 // NTLMSSP_NEGOTIATE_NTLM
	ntlmFlagAlwaysSign       uint32 = 0x00008000 // NTLMSSP_NEGOTIATE_ALWAYS_SIGN
	ntlmFlagTargetTypeDomain uint32 = 0x00010000 // NTLMSSP_TARGET_TYPE_DOMAIN
	ntlmFlagExtendedSession  uint32 = 0x00080000 // NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
	ntlmFlagTargetInfo       uint32 = 0x00800000 // NTLMSSP_NEGOTIATE_TARGET_INFO
	ntlmFlag128              uint32 = 0x20000000 // NTLMSSP_NEGOTIATE_128
	ntlmFlag56               uint32 = 0x80000000 // NTLMSSP_NEGOTIATE_56
)

// AV_PAIR identifiers (MS-NLMP §2.2.2.1).
const (
	ntlmAvEOL            uint16 = 0x0000 // MsvAvEOL
	ntlmAvNbComputerName uint16 = 0x0001 // MsvAvNbComputerName
	ntlmAvNbDomainName   uint16 = 0x0002 // MsvAvNbDomainName
	ntlmAvTimestamp      uint16 = 0x0007 // MsvAvTimestamp
)

// ntlmSignature opens every NTLM message (MS-NLMP §2.2.1).
var ntlmSignature = []byte("NTLMSSP\x00")

// ntlmAuthenticateHeader is the fixed part of an AUTHENTICATE_MESSAGE up to
// and including NegotiateFlags (MS-NLMP §2.2.1.3); Version and MIC, when
// present, follow it and are not needed to verify NTLMv2.
const ntlmAuthenticateHeader = 64

// ntlmChallengeHeader is the fixed part of the CHALLENGE_MESSAGE this server
// sends: 48 bytes of fields and an 8-byte Version, left zero since
// NTLMSSP_NEGOTIATE_VERSION is not offered (MS-NLMP §2.2.1.2).
const ntlmChallengeHeader = 56

// ntlmUTF16 is s in UTF-16LE.
func ntlmUTF16(s string) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(units))
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

// ntlmFromUTF16 decodes UTF-16LE; an odd length is malformed.
func ntlmFromUTF16(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("odd-length UTF-16 string")
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units)), nil
}

func ntlmHMACMD5(key []byte, parts ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// ntlmNTOWFv1 is MD4(UNICODE(password)) (MS-NLMP §3.3.1).
func ntlmNTOWFv1(password string) []byte {
	h := md4.New()
	h.Write(ntlmUTF16(password))
	return h.Sum(nil)
}

// ntlmNTOWFv2 is HMAC_MD5(MD4(UNICODE(password)),
// UNICODE(ConcatenationOf(Uppercase(user), domain))) (MS-NLMP §3.3.2).
func ntlmNTOWFv2(password, user, domain string) []byte {
	return ntlmHMACMD5(ntlmNTOWFv1(password), ntlmUTF16(strings.ToUpper(user)+domain))
}

// ntlmTemp is the "temp" of MS-NLMP §3.3.2, which is also the NTLMv2
// response after its first 16 bytes (NTLMv2_CLIENT_CHALLENGE, §2.2.2.7):
// Responserversion (1), HiResponserversion (1), Z(6), Time (8),
// ClientChallenge (8), Z(4), ServerName (the AV pairs), Z(4).
func ntlmTemp(timestamp, clientChallenge, serverName []byte) []byte {
	t := make([]byte, 0, 28+len(serverName)+4)
	t = append(t, 1, 1, 0, 0, 0, 0, 0, 0)
	t = append(t, timestamp...)
	t = append(t, clientChallenge...)
	t = append(t, 0, 0, 0, 0)
	t = append(t, serverName...)
	return append(t, 0, 0, 0, 0)
}

// ntlmProofStr is HMAC_MD5(ResponseKeyNT, ConcatenationOf(ServerChallenge,
// temp)) (MS-NLMP §3.3.2).
func ntlmProofStr(ntowfv2, serverChallenge, temp []byte) []byte {
	return ntlmHMACMD5(ntowfv2, serverChallenge, temp)
}

// ntlmAV is one AV_PAIR.
type ntlmAV struct {
	id    uint16
	value []byte
}

// ntlmAVPairs encodes pairs followed by MsvAvEOL.
func ntlmAVPairs(pairs ...ntlmAV) []byte {
	var b []byte
	for _, p := range pairs {
		b = binary.LittleEndian.AppendUint16(b, p.id)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.value)))
		b = append(b, p.value...)
	}
	return binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(b, ntlmAvEOL), 0)
}

// ntlmFiletime is t as a little-endian FILETIME (100 ns since 1601).
func ntlmFiletime(t time.Time) []byte {
	const unixEpochAsFiletime = 116444736000000000
	return binary.LittleEndian.AppendUint64(nil, uint64(t.UnixNano()/100)+unixEpochAsFiletime)
}

// ntlmPutField writes a Len/MaxLen/BufferOffset field (MS-NLMP §2.2.1).
func ntlmPutField(b []byte, length, offset int) {
	binary.LittleEndian.PutUint16(b[0:], uint16(length))
	binary.LittleEndian.PutUint16(b[2:], uint16(length))
	binary.LittleEndian.PutUint32(b[4:], uint32(offset))
}

// ntlmChallengeMessage builds a CHALLENGE_MESSAGE (MS-NLMP §2.2.1.2).
func ntlmChallengeMessage(flags uint32, serverChallenge []byte, targetName string, targetInfo []byte) []byte {
	name := ntlmUTF16(targetName)
	m := make([]byte, ntlmChallengeHeader, ntlmChallengeHeader+len(name)+len(targetInfo))
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	ntlmPutField(m[12:], len(name), ntlmChallengeHeader)
	binary.LittleEndian.PutUint32(m[20:], flags)
	copy(m[24:32], serverChallenge)
	// m[32:40] is Reserved, m[48:56] the unused Version.
	ntlmPutField(m[40:], len(targetInfo), ntlmChallengeHeader+len(name))
	m = append(m, name...)
	return append(m, targetInfo...)
}

// ntlmMessageType checks the signature and returns the MessageType.
func ntlmMessageType(msg []byte) (uint32, error) {
	if len(msg) < 12 || !bytes.Equal(msg[:8], ntlmSignature) {
		return 0, errors.New("not an NTLMSSP message")
	}
	return binary.LittleEndian.Uint32(msg[8:12]), nil
}

// ntlmNegotiateFlags parses the NegotiateFlags of a NEGOTIATE_MESSAGE
// (MS-NLMP §2.2.1.1).
func ntlmNegotiateFlags(msg []byte) (uint32, error) {
	typ, err := ntlmMessageType(msg)
	if err != nil {
		return 0, err
	}
	if typ != 1 || len(msg) < 16 {
		return 0, errors.New("not a NEGOTIATE_MESSAGE")
	}
	return binary.LittleEndian.Uint32(msg[12:16]), nil
}

// ntlmAuthenticate is a parsed AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3).
type ntlmAuthenticate struct {
	Flags       uint32
	LM, NT      []byte
	Domain      string
	User        string
	Workstation string
	SessionKey  []byte
}

// parseNTLMAuthenticate parses an AUTHENTICATE_MESSAGE, checking every
// length and offset against msg: any malformed message is an error.
func parseNTLMAuthenticate(msg []byte) (*ntlmAuthenticate, error) {
	typ, err := ntlmMessageType(msg)
	if err != nil {
		return nil, err
	}
	if typ != 3 {
		return nil, fmt.Errorf("message type %d, want 3", typ)
	}
	if len(msg) < ntlmAuthenticateHeader {
		return nil, fmt.Errorf("AUTHENTICATE_MESSAGE of %d bytes, want at least %d", len(msg), ntlmAuthenticateHeader)
	}
	field := func(at int) ([]byte, error) {
		length := uint64(binary.LittleEndian.Uint16(msg[at:]))
		offset := uint64(binary.LittleEndian.Uint32(msg[at+4:]))
		if length == 0 {
			return nil, nil
		}
		if offset < ntlmAuthenticateHeader || offset+length > uint64(len(msg)) {
			return nil, fmt.Errorf("field at %d: %d bytes at offset %d outside the %d-byte payload", at, length, offset, len(msg))
		}
		return bytes.Clone(msg[offset : offset+length]), nil
	}
	a := &ntlmAuthenticate{Flags: binary.LittleEndian.Uint32(msg[60:64])}
	text := func(at int) (string, error) {
		b, err := field(at)
		if err != nil {
			return "", err
		}
		if a.Flags&ntlmFlagUnicode != 0 {
			return ntlmFromUTF16(b)
		}
		return string(b), nil
	}
	if a.LM, err = field(12); err != nil {
		return nil, err
	}
	if a.NT, err = field(20); err != nil {
		return nil, err
	}
	if a.Domain, err = text(28); err != nil {
		return nil, err
	}
	if a.User, err = text(36); err != nil {
		return nil, err
	}
	if a.Workstation, err = text(44); err != nil {
		return nil, err
	}
	if a.SessionKey, err = field(52); err != nil {
		return nil, err
	}
	return a, nil
}

// verifyNTLMv2 reports whether a's NTLMv2 response proves knowledge of
// password for the user and domain a names, in answer to serverChallenge
// (MS-NLMP §3.3.2, §3.2.5.1.2). NTLMv1, LMv2-only and anonymous
// responses do not verify.
func verifyNTLMv2(a *ntlmAuthenticate, serverChallenge []byte, password string) bool {
	// NTProofStr (16) and the fixed 28 bytes of temp at least; a 24-byte
	// response is NTLMv1.
	if a == nil || len(serverChallenge) != 8 || len(a.NT) < 16+28 {
		return false
	}
	temp := a.NT[16:]
	if temp[0] != 1 || temp[1] != 1 {
		return false
	}
	want := ntlmProofStr(ntlmNTOWFv2(password, a.User, a.Domain), serverChallenge, temp)
	return hmac.Equal(want, a.NT[:16])
}

// ntlmConn is the NTLM state of one TCP connection.
type ntlmConn struct {
	mu        sync.Mutex
	challenge []byte // the pending server challenge, nil: none
	user      string // DOMAIN\user as sent, "": not authenticated
}

type ntlmConnKey struct{}

// ntlmUpstream is a loopback HTTP/1.1 server that authenticates each
// connection with NTLMv2 against one account (issue 11, R-INT-2 (NTLM)).
type ntlmUpstream struct {
	URL string

	domain, user, password string
	srv                    *httptest.Server

	nHandshakes, nFailures, nServed, nChallenges, nMalformed atomic.Int64
}

// newNTLMUpstream starts an NTLM upstream on 127.0.0.1 for
// domain\user with password (domain and user match case-insensitively);
// it is closed when the test ends.
func newNTLMUpstream(t *testing.T, domain, user, password string) *ntlmUpstream {
	t.Helper()
	u := &ntlmUpstream{domain: domain, user: user, password: password}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(u.handle))
	u.srv.Listener.Close()
	u.srv.Listener = ln
	u.srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, ntlmConnKey{}, &ntlmConn{})
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	u.URL = u.srv.URL
	return u
}

// handshakes counts AUTHENTICATE_MESSAGEs that verified.
func (u *ntlmUpstream) handshakes() int { return int(u.nHandshakes.Load()) }

// failures counts well-formed AUTHENTICATE_MESSAGEs that did not verify
// (wrong domain, user or password, no pending challenge on the
// connection, NTLMv1); malformed ones are 400s, counted by malformed.
func (u *ntlmUpstream) failures() int { return int(u.nFailures.Load()) }

// served counts requests answered 200.
func (u *ntlmUpstream) served() int { return int(u.nServed.Load()) }

// challenges counts CHALLENGE_MESSAGEs sent.
func (u *ntlmUpstream) challenges() int { return int(u.nChallenges.Load()) }

// malformed counts requests refused 400 for a malformed NTLM token.
func (u *ntlmUpstream) malformed() int { return int(u.nMalformed.Load()) }

// accepts reports whether a authenticates the configured account in
// answer to serverChallenge.
func (u *ntlmUpstream) accepts(a *ntlmAuthenticate, serverChallenge []byte) bool {
	// Both checks run: the proof binds the domain and user as sent.
	okName := strings.EqualFold(a.Domain, u.domain) && strings.EqualFold(a.User, u.user)
	okProof := verifyNTLMv2(a, serverChallenge, u.password)
	return okName && okProof
}

// demand is the 401 that asks for NTLM or Negotiate.
func (u *ntlmUpstream) demand(w http.ResponseWriter) {
	w.Header().Add("WWW-Authenticate", "NTLM")
	w.Header().Add("WWW-Authenticate", "Negotiate")
	http.Error(w, "authentication required", http.StatusUnauthorized)
}

func (u *ntlmUpstream) bad(w http.ResponseWriter, why string) {
	u.nMalformed.Add(1)
	http.Error(w, "malformed NTLM token: "+why, http.StatusBadRequest)
}

func (u *ntlmUpstream) handle(w http.ResponseWriter, r *http.Request) {
	c, ok := r.Context().Value(ntlmConnKey{}).(*ntlmConn)
	if !ok {
		http.Error(w, "no connection state", http.StatusInternalServerError)
		return
	}
	scheme, token, hasNTLM := ntlmAuthorization(r.Header.Get("Authorization"))
	if !hasNTLM {
		c.mu.Lock()
		user := c.user
		c.mu.Unlock()
		if user == "" {
			u.demand(w)
			return
		}
		u.serve(w, r, user) // the connection is authenticated
		return
	}
	msg, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		u.bad(w, "base64: "+err.Error())
		return
	}
	typ, err := ntlmMessageType(msg)
	if err != nil {
		u.bad(w, err.Error())
		return
	}
	switch typ {
	case 1:
		flags, err := ntlmNegotiateFlags(msg)
		if err != nil {
			u.bad(w, err.Error())
			return
		}
		challenge := make([]byte, 8)
		if _, err := rand.Read(challenge); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := ntlmFlagUnicode | ntlmFlagRequestTarget | ntlmFlagNTLM | ntlmFlagAlwaysSign |
			ntlmFlagTargetTypeDomain | ntlmFlagExtendedSession | ntlmFlagTargetInfo
		out |= flags & (ntlmFlag128 | ntlmFlag56)
		nb := strings.ToUpper(u.domain)
		info := ntlmAVPairs(
			ntlmAV{ntlmAvNbDomainName, ntlmUTF16(nb)},
			ntlmAV{ntlmAvNbComputerName, ntlmUTF16("UPSTREAM")},
			ntlmAV{ntlmAvTimestamp, ntlmFiletime(time.Now())},
		)
		c.mu.Lock()
		c.challenge, c.user = challenge, "" // a new handshake starts over
		c.mu.Unlock()
		u.nChallenges.Add(1)
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(ntlmChallengeMessage(out, challenge, nb, info)))
		http.Error(w, "continue the NTLM handshake", http.StatusUnauthorized)
	case 3:
		a, err := parseNTLMAuthenticate(msg)
		if err != nil {
			u.bad(w, err.Error())
			return
		}
		// The challenge is single use, and only on its own connection.
		c.mu.Lock()
		challenge := c.challenge
		c.challenge, c.user = nil, ""
		c.mu.Unlock()
		if challenge == nil || !u.accepts(a, challenge) {
			u.nFailures.Add(1)
			u.demand(w)
			return
		}
		user := a.Domain + `\` + a.User
		c.mu.Lock()
		c.user = user
		c.mu.Unlock()
		u.nHandshakes.Add(1)
		u.serve(w, r, user)
	default:
		u.bad(w, fmt.Sprintf("unexpected message type %d", typ))
	}
}

// ntlmAuthorization splits an "NTLM <token>" or "Negotiate <token>"
// Authorization header; scheme is spelled canonically.
func ntlmAuthorization(h string) (scheme, token string, ok bool) {
	s, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case strings.EqualFold(s, "NTLM"):
		scheme = "NTLM"
	case strings.EqualFold(s, "Negotiate"):
		scheme = "Negotiate"
	default:
		return "", "", false
	}
	return scheme, strings.TrimSpace(rest), true
}

func (u *ntlmUpstream) serve(w http.ResponseWriter, r *http.Request, user string) {
	u.nServed.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"user": user, "path": r.URL.Path, "query": r.URL.RawQuery})
}

// ntlmClient is go-ntlmssp over its own HTTP/1.1 transport.
func ntlmClient(t *testing.T) *http.Client {
	tr := &http.Transport{ForceAttemptHTTP2: false}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: ntlmssp.Negotiator{RoundTripper: tr}}
}

// ntlmPlainClient is a client without NTLM support on its own transport.
func ntlmPlainClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// ntlmReply is one response, its body read to the end (so that the
// connection goes back to the pool for the next request).
type ntlmReply struct {
	status int
	header http.Header
	body   []byte
}

// ntlmDo sends a GET to u with header Authorization auth ("": none) and,
// when creds is {user, password}, Basic credentials for go-ntlmssp.
func ntlmDo(t *testing.T, c *http.Client, u, auth string, creds ...string) ntlmReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if len(creds) == 2 {
		req.SetBasicAuth(creds[0], creds[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return ntlmReply{resp.StatusCode, resp.Header, body}
}

// ntlmTestAVPairs reads the TargetInfo of a CHALLENGE_MESSAGE (test side;
// fails the test on anything malformed).
func ntlmTestAVPairs(t *testing.T, m []byte) (uint32, []byte, map[uint16][]byte) {
	t.Helper()
	if typ, err := ntlmMessageType(m); err != nil || typ != 2 || len(m) < 48 {
		t.Fatalf("not a CHALLENGE_MESSAGE: %x", m)
	}
	l, off := int(binary.LittleEndian.Uint16(m[40:])), int(binary.LittleEndian.Uint32(m[44:]))
	if off+l > len(m) {
		t.Fatalf("TargetInfo outside the message")
	}
	info, pairs := m[off:off+l], map[uint16][]byte{}
	for len(info) >= 4 {
		id, n := binary.LittleEndian.Uint16(info), int(binary.LittleEndian.Uint16(info[2:]))
		if id == ntlmAvEOL {
			return binary.LittleEndian.Uint32(m[20:]), m[24:32], pairs
		}
		if 4+n > len(info) {
			break
		}
		pairs[id], info = info[4:4+n], info[4+n:]
	}
	t.Fatalf("TargetInfo without MsvAvEOL")
	return 0, nil, nil
}

func ntlmHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNTLMv2KnownAnswer checks the NTLMv2 computations of the upstream
// against the published test vectors of MS-NLMP §4.2.1, §4.2.2.1.2 and
// §4.2.4 (issue 11, R-INT-2 (NTLM)).
func TestNTLMv2KnownAnswer(t *testing.T) {
	const user, domain, password = "User", "Domain", "Password"
	serverChallenge := ntlmHex(t, "0123456789abcdef")
	clientChallenge := ntlmHex(t, "aaaaaaaaaaaaaaaa")
	timestamp := make([]byte, 8)

	if got, want := hex.EncodeToString(ntlmNTOWFv1(password)), "a4f49c406510bdcab6824ee7c30fd852"; got != want {
		t.Errorf("NTOWFv1 = %s, want %s (§4.2.2.1.2)", got, want)
	}
	ntowf := ntlmNTOWFv2(password, user, domain)
	if got, want := hex.EncodeToString(ntowf), "0c868a403bfd7a93a3001ef22ef02e3f"; got != want {
		t.Errorf("NTOWFv2 = %s, want %s (§4.2.4.1.1)", got, want)
	}

	// The AV pairs of the §4.2.1 CHALLENGE_MESSAGE, as the spec prints them.
	serverName := ntlmAVPairs(
		ntlmAV{ntlmAvNbDomainName, ntlmUTF16("Domain")},
		ntlmAV{ntlmAvNbComputerName, ntlmUTF16("Server")},
	)
	wantAV := ntlmHex(t, "02 00 0c 00 44 00 6f 00 6d 00 61 00 69 00 6e 00 01 00 0c 00 53 00 65 00 72 00 76 00 65 00 72 00 00 00 00 00")
	if !bytes.Equal(serverName, wantAV) {
		t.Errorf("AV pairs = %x, want %x (§4.2.1)", serverName, wantAV)
	}

	temp := ntlmTemp(timestamp, clientChallenge, serverName)
	proof := ntlmProofStr(ntowf, serverChallenge, temp)
	if got, want := hex.EncodeToString(proof), "68cd0ab851e51c96aabc927bebef6a1c"; got != want {
		t.Errorf("NTProofStr = %s, want %s (§4.2.4.2.2)", got, want)
	}

	// The whole NTLMv2 response verifies, and nothing near it does.
	a := &ntlmAuthenticate{Flags: ntlmFlagUnicode, User: user, Domain: domain, NT: append(bytes.Clone(proof), temp...)}
	if !verifyNTLMv2(a, serverChallenge, password) {
		t.Error("the §4.2.4 NTLMv2 response does not verify")
	}
	if verifyNTLMv2(a, serverChallenge, "password") {
		t.Error("verified with the wrong password")
	}
	if !verifyNTLMv2(&ntlmAuthenticate{User: "USER", Domain: domain, NT: a.NT}, serverChallenge, password) {
		t.Error("the user name is uppercased in NTOWFv2, yet USER does not verify")
	}
	if verifyNTLMv2(&ntlmAuthenticate{User: user, Domain: "DOMAIN", NT: a.NT}, serverChallenge, password) {
		t.Error("the domain is not uppercased in NTOWFv2, yet DOMAIN verifies")
	}
	if verifyNTLMv2(a, ntlmHex(t, "0123456789abcdee"), password) {
		t.Error("verified against another server challenge")
	}
	for i := range a.NT {
		flipped := &ntlmAuthenticate{User: user, Domain: domain, NT: bytes.Clone(a.NT)}
		flipped.NT[i] ^= 0x01
		if verifyNTLMv2(flipped, serverChallenge, password) {
			t.Fatalf("verified with byte %d of the response flipped", i)
		}
	}
	if verifyNTLMv2(&ntlmAuthenticate{User: user, Domain: domain, NT: a.NT[:24]}, serverChallenge, password) {
		t.Error("a 24-byte (NTLMv1-sized) response verified")
	}
}

// ntlmSeedAuthenticate is a real AUTHENTICATE_MESSAGE from go-ntlmssp in
// answer to one of this server's CHALLENGE_MESSAGEs.
func ntlmSeedAuthenticate(t testing.TB, challenge []byte, username, password string) []byte {
	t.Helper()
	info := ntlmAVPairs(
		ntlmAV{ntlmAvNbDomainName, ntlmUTF16("ACME")},
		ntlmAV{ntlmAvNbComputerName, ntlmUTF16("UPSTREAM")},
		ntlmAV{ntlmAvTimestamp, ntlmFiletime(time.Now())},
	)
	flags := ntlmFlagUnicode | ntlmFlagRequestTarget | ntlmFlagNTLM | ntlmFlagAlwaysSign |
		ntlmFlagTargetTypeDomain | ntlmFlagExtendedSession | ntlmFlagTargetInfo
	m, err := ntlmssp.NewAuthenticateMessage(ntlmChallengeMessage(flags, challenge, "ACME", info), username, password, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNTLMUpstream drives the NTLM upstream with go-ntlmssp, the client
// Gatehouse's integrations use, and with hand-made messages (issue 11,
// R-INT-2 (NTLM)).
func TestNTLMUpstream(t *testing.T) {
	const domain, user, password = "ACME", "svc", "correct-pass"

	// issue 11, R-INT-2 (NTLM): the parser and verifier agree with
	// go-ntlmssp's AUTHENTICATE_MESSAGE, without HTTP in between.
	t.Run("parses and verifies go-ntlmssp's message", func(t *testing.T) {
		challenge := ntlmHex(t, "1122334455667788")
		a, err := parseNTLMAuthenticate(ntlmSeedAuthenticate(t, challenge, `ACME\svc`, password))
		if err != nil {
			t.Fatal(err)
		}
		if a.Domain != "ACME" || a.User != "svc" || a.Flags&ntlmFlagUnicode == 0 {
			t.Fatalf("parsed %+v", a)
		}
		if !verifyNTLMv2(a, challenge, password) {
			t.Error("go-ntlmssp's NTLMv2 response does not verify")
		}
		if verifyNTLMv2(a, challenge, "wrong-pass") || verifyNTLMv2(a, ntlmHex(t, "1122334455667789"), password) {
			t.Error("verified with the wrong password or challenge")
		}
	})

	// issue 11, R-INT-2 (NTLM): the right account gets in, and the
	// connection stays authenticated.
	t.Run("go-ntlmssp authenticates", func(t *testing.T) {
		u := newNTLMUpstream(t, domain, user, password)
		c := ntlmClient(t)
		r := ntlmDo(t, c, u.URL+"/api/items?id=7&x=y", "", `ACME\svc`, password)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got map[string]string
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"user": `ACME\svc`, "path": "/api/items", "query": "id=7&x=y"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("body %v, want %v", got, want)
		}
		if u.handshakes() != 1 || u.failures() != 0 || u.served() != 1 || u.challenges() != 1 {
			t.Errorf("handshakes %d failures %d served %d challenges %d, want 1 0 1 1", u.handshakes(), u.failures(), u.served(), u.challenges())
		}

		// Same connection: go-ntlmssp's anonymous first try is served.
		if r := ntlmDo(t, c, u.URL+"/again", "", `ACME\svc`, password); r.status != http.StatusOK || !strings.Contains(string(r.body), `"user":"ACME\\svc"`) {
			t.Errorf("second request: %d %s", r.status, r.body)
		}
		if r := ntlmDo(t, c, u.URL+"/no-creds", ""); r.status != http.StatusOK {
			t.Errorf("request without credentials on the authenticated connection: %d %s", r.status, r.body)
		}
		if u.handshakes() != 1 || u.served() != 3 {
			t.Errorf("handshakes %d served %d, want 1 3", u.handshakes(), u.served())
		}

		// Another connection is not authenticated.
		if r := ntlmDo(t, ntlmPlainClient(t), u.URL+"/", ""); r.status != http.StatusUnauthorized {
			t.Errorf("fresh connection without credentials: %d", r.status)
		}
	})

	// issue 11, R-INT-2 (NTLM): domain and user match case-insensitively
	// and the user is reported as sent.
	t.Run("case-insensitive names", func(t *testing.T) {
		u := newNTLMUpstream(t, domain, user, password)
		r := ntlmDo(t, ntlmClient(t), u.URL+"/", "", `acme\SVC`, password)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"user":"acme\\SVC"`) {
			t.Errorf("%d %s", r.status, r.body)
		}
	})

	// issue 11, R-INT-2 (NTLM): wrong password, user or domain is a 401
	// and counts as a failure.
	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", `ACME\svc`, "wrong-pass"},
		{"wrong user", `ACME\other`, password},
		{"wrong domain", `EVIL\svc`, password},
		{"no domain", `svc`, password},
		{"password case", `ACME\svc`, "CORRECT-PASS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newNTLMUpstream(t, domain, user, password)
			r := ntlmDo(t, ntlmClient(t), u.URL+"/", "", tc.username, tc.password)
			if r.status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401: %s", r.status, r.body)
			}
			if u.failures() != 1 || u.handshakes() != 0 || u.served() != 0 {
				t.Errorf("failures %d handshakes %d served %d, want 1 0 0", u.failures(), u.handshakes(), u.served())
			}
		})
	}

	// issue 11, R-INT-2 (NTLM): no credentials is a 401 offering NTLM
	// and Negotiate.
	t.Run("no credentials", func(t *testing.T) {
		u := newNTLMUpstream(t, domain, user, password)
		r := ntlmDo(t, ntlmClient(t), u.URL+"/", "")
		offered := strings.Join(r.header.Values("WWW-Authenticate"), ",")
		if r.status != http.StatusUnauthorized || offered != "NTLM,Negotiate" {
			t.Errorf("status %d, WWW-Authenticate %q", r.status, offered)
		}
		if u.served() != 0 {
			t.Errorf("served %d", u.served())
		}
	})

	// issue 11, R-INT-2 (NTLM): the Negotiate scheme, answered in kind;
	// the challenge is fresh, single use and bound to its connection.
	t.Run("Negotiate scheme and per-connection challenge", func(t *testing.T) {
		u := newNTLMUpstream(t, domain, user, password)
		type1, err := ntlmssp.NewNegotiateMessage("", "")
		if err != nil {
			t.Fatal(err)
		}
		var dials atomic.Int64
		connClient := func() *http.Client {
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
			t.Cleanup(tr.CloseIdleConnections)
			return &http.Client{Transport: tr}
		}
		challengeOn := func(c *http.Client) []byte {
			t.Helper()
			r := ntlmDo(t, c, u.URL+"/", "Negotiate "+base64.StdEncoding.EncodeToString(type1))
			scheme, token, ok := ntlmAuthorization(r.header.Get("WWW-Authenticate"))
			if r.status != http.StatusUnauthorized || !ok || scheme != "Negotiate" || len(r.header.Values("WWW-Authenticate")) != 1 {
				t.Fatalf("Type 1: %d %q", r.status, r.header.Values("WWW-Authenticate"))
			}
			m, err := base64.StdEncoding.DecodeString(token)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}

		a := connClient()
		type2 := challengeOn(a)
		flags, serverChallenge, pairs := ntlmTestAVPairs(t, type2)
		need := ntlmFlagUnicode | ntlmFlagNTLM | ntlmFlagAlwaysSign | ntlmFlagExtendedSession | ntlmFlagTargetInfo
		if flags&need != need {
			t.Errorf("CHALLENGE_MESSAGE flags %#08x lack %#08x", flags, need&^flags)
		}
		if len(pairs[ntlmAvTimestamp]) != 8 || string(pairs[ntlmAvNbDomainName]) != string(ntlmUTF16("ACME")) || len(pairs[ntlmAvNbComputerName]) == 0 {
			t.Errorf("TargetInfo %x", pairs)
		}
		type3, err := ntlmssp.NewAuthenticateMessage(type2, `ACME\svc`, password, nil)
		if err != nil {
			t.Fatal(err)
		}
		auth3 := "Negotiate " + base64.StdEncoding.EncodeToString(type3)
		if r := ntlmDo(t, a, u.URL+"/neg", auth3); r.status != http.StatusOK {
			t.Fatalf("Type 3: %d %s", r.status, r.body)
		}
		// Replayed on the same connection: the challenge is spent.
		if r := ntlmDo(t, a, u.URL+"/neg", auth3); r.status != http.StatusUnauthorized {
			t.Errorf("replayed Type 3: %d", r.status)
		}
		if d := dials.Load(); d != 1 {
			t.Fatalf("%d connections for one client, the test needs 1", d)
		}

		// A fresh challenge each time.
		again := challengeOn(a)
		if _, c2, _ := ntlmTestAVPairs(t, again); bytes.Equal(c2, serverChallenge) {
			t.Errorf("server challenge %x repeated", c2)
		}
		// The Type 3 for a's challenge on another connection is refused.
		type3, err = ntlmssp.NewAuthenticateMessage(again, `ACME\svc`, password, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := ntlmDo(t, connClient(), u.URL+"/neg", "NTLM "+base64.StdEncoding.EncodeToString(type3)); r.status != http.StatusUnauthorized {
			t.Errorf("Type 3 on another connection: %d", r.status)
		}
		if u.handshakes() != 1 || u.failures() != 2 {
			t.Errorf("handshakes %d failures %d, want 1 2", u.handshakes(), u.failures())
		}
	})

	// issue 11, R-INT-2 (NTLM): garbage is a 400, never a 500 or a panic.
	t.Run("malformed tokens", func(t *testing.T) {
		u := newNTLMUpstream(t, domain, user, password)
		good := ntlmSeedAuthenticate(t, ntlmHex(t, "0102030405060708"), `ACME\svc`, password)
		outOfRange := bytes.Clone(good)
		binary.LittleEndian.PutUint32(outOfRange[24:], 0xfffffff0) // NtChallengeResponse offset
		oddUser := bytes.Clone(good)
		binary.LittleEndian.PutUint16(oddUser[36:], binary.LittleEndian.Uint16(oddUser[36:])-1)
		b64 := base64.StdEncoding.EncodeToString
		for _, auth := range []string{
			"NTLM AAAA",
			"NTLM",
			"NTLM !!!not-base64!!!",
			"Negotiate AAAA",
			"NTLM " + b64([]byte("NTLMSSP\x00")),
			"NTLM " + b64([]byte("NTLMSSP\x00\x01\x00\x00\x00")),
			"NTLM " + b64([]byte("NTLMSSP\x00\x02\x00\x00\x00\x00\x00\x00\x00")),
			"NTLM " + b64(good[:63]),
			"NTLM " + b64(good[:len(good)-1]),
			"NTLM " + b64(outOfRange),
			"NTLM " + b64(oddUser),
		} {
			r := ntlmDo(t, ntlmPlainClient(t), u.URL+"/", auth)
			if r.status != http.StatusBadRequest {
				t.Errorf("%.40q: status %d, want 400", auth, r.status)
			}
		}
		if u.failures() != 0 || u.handshakes() != 0 || u.served() != 0 {
			t.Errorf("failures %d handshakes %d served %d", u.failures(), u.handshakes(), u.served())
		}
		// Well-formed, but no challenge is pending on this connection.
		if r := ntlmDo(t, ntlmPlainClient(t), u.URL+"/", "NTLM "+b64(good)); r.status != http.StatusUnauthorized || u.failures() != 1 {
			t.Errorf("unsolicited Type 3: status %d, failures %d", r.status, u.failures())
		}
	})

	// issue 11, R-INT-2 (NTLM): concurrent clients each authenticate
	// their own connection.
	t.Run("concurrent clients", func(t *testing.T) {
		u := newNTLMUpstream(t, domain, user, password)
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			c := ntlmClient(t)
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/c/%d", u.URL, i), nil)
				username := `ACME\svc`
				if i%2 == 1 {
					username = `ACME\nobody`
				}
				req.SetBasicAuth(username, password)
				resp, err := c.Do(req)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		for i, s := range statuses {
			want := http.StatusOK
			if i%2 == 1 {
				want = http.StatusUnauthorized
			}
			if s != want {
				t.Errorf("client %d: status %d, want %d", i, s, want)
			}
		}
		if u.handshakes() != n/2 || u.failures() != n/2 || u.served() != n/2 {
			t.Errorf("handshakes %d failures %d served %d, want %d each", u.handshakes(), u.failures(), u.served(), n/2)
		}
	})
}

// FuzzNTLMAuthenticateParse feeds arbitrary bytes to the
// AUTHENTICATE_MESSAGE parser and the verifier: they must never panic,
// and what they parse lies within the input (issue 11, R-INT-2 (NTLM)).
func FuzzNTLMAuthenticateParse(f *testing.F) {
	challenge := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	good := ntlmSeedAuthenticate(f, challenge, `ACME\svc`, "correct-pass")
	f.Add(good)
	f.Add(good[:ntlmAuthenticateHeader])
	f.Add(good[:len(good)-1])
	f.Add([]byte("NTLMSSP\x00\x03\x00\x00\x00"))
	f.Add(append([]byte("NTLMSSP\x00\x03\x00\x00\x00"), make([]byte, 52)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := parseNTLMAuthenticate(msg)
		if err != nil {
			if a != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		for _, b := range [][]byte{a.LM, a.NT, a.SessionKey, []byte(a.Domain), []byte(a.User), []byte(a.Workstation)} {
			// UTF-16 decoding can grow a string by at most half again
			// (2 bytes become up to 3).
			if 2*len(b) > 3*len(msg) {
				t.Fatalf("parsed %d bytes out of a %d-byte message", len(b), len(msg))
			}
		}
		// NTOWFv2 uppercases the user, never the domain.
		if verifyNTLMv2(a, challenge, "correct-pass") && (strings.ToUpper(a.User) != "SVC" || a.Domain != "ACME") {
			t.Fatalf("verified a forged message %x", msg)
		}
	})
}
