package bff

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// Cookie sizes: browsers keep at least 4096 bytes per cookie, name and
// attributes included, so a value goes in chunks of chunkSize; a session
// of more than maxChunks is refused (read as logged out).
const (
	chunkSize = 3800
	maxChunks = 8
)

// cookieJar seals values into cookies: as their binary encoding when they
// have one (the session: the hot path of RetrieveAccessToken), else as JSON. Every value carries its own expiry
// (a copied cookie does not outlive it) and is bound to its cookie name by
// the associated data (a value cannot pass for another cookie's).
type cookieJar struct {
	ring *seal.Ring
	// secure: Secure and the __Host- prefix; off only for plain-http
	// development on loopback.
	secure bool
	now    func() time.Time
}

func (j *cookieJar) name(base string) string {
	if j.secure {
		return "__Host-" + base
	}
	return base
}

func aad(name string) []byte { return []byte("gatehouse-bff-cookie\x00" + name) }

// write seals v into the cookies of base until expires, removing chunks a
// longer earlier value left behind.
func (j *cookieJar) write(w http.ResponseWriter, r *http.Request, base string, v any, expires time.Time, sameSite http.SameSite) error {
	name := j.name(base)
	// The plaintext is the expiry (8 bytes, big-endian Unix seconds) and
	// the JSON of v.
	env := binary.BigEndian.AppendUint64(make([]byte, 0, 1024), uint64(expires.Unix()))
	var b []byte
	var err error
	if m, ok := v.(encoding.BinaryMarshaler); ok {
		b, err = m.MarshalBinary()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	env = append(env, b...)
	sealed, err := j.ring.Seal(env, aad(name))
	if err != nil {
		return err
	}
	n := (len(sealed) + chunkSize - 1) / chunkSize
	if n > maxChunks {
		return errTooLarge
	}
	maxAge := max(1, int(time.Until(expires).Seconds()))
	if j.now != nil {
		maxAge = max(1, int(expires.Sub(j.now()).Seconds()))
	}
	for i := 0; i < n; i++ {
		part := sealed[i*chunkSize : min(len(sealed), (i+1)*chunkSize)]
		cn := name
		if i == 0 {
			part = strconv.Itoa(n) + "~" + part
		} else {
			cn = name + "." + strconv.Itoa(i)
		}
		http.SetCookie(w, j.cookie(cn, part, maxAge, sameSite))
	}
	for i := n; i < maxChunks; i++ {
		if _, err := r.Cookie(name + "." + strconv.Itoa(i)); err == nil {
			http.SetCookie(w, j.cookie(name+"."+strconv.Itoa(i), "", -1, sameSite))
		}
	}
	return nil
}

// read opens the value of base into v. Anything but a whole, untampered,
// unexpired value of this cookie under a key of the ring reads as absent.
func (j *cookieJar) read(r *http.Request, base string, v any) bool {
	_, ok := j.readExp(r, base, v)
	return ok
}

// readExp is read that also returns the value's expiry.
func (j *cookieJar) readExp(r *http.Request, base string, v any) (time.Time, bool) {
	name := j.name(base)
	first, err := r.Cookie(name)
	if err != nil {
		return time.Time{}, false
	}
	ns, rest, ok := strings.Cut(first.Value, "~")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n < 1 || n > maxChunks || len(ns) > 1 {
		return time.Time{}, false
	}
	sealed := rest
	if n > 1 {
		var b strings.Builder
		b.WriteString(rest)
		for i := 1; i < n; i++ {
			c, err := r.Cookie(name + "." + strconv.Itoa(i))
			if err != nil {
				return time.Time{}, false
			}
			b.WriteString(c.Value)
		}
		sealed = b.String()
	}
	if len(sealed) > maxChunks*chunkSize {
		return time.Time{}, false
	}
	pt, err := j.ring.Open(sealed, aad(name))
	if err != nil || len(pt) < 8 {
		return time.Time{}, false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(pt)), 0)
	now := time.Now()
	if j.now != nil {
		now = j.now()
	}
	if !now.Before(exp) {
		return time.Time{}, false
	}
	if u, ok := v.(encoding.BinaryUnmarshaler); ok {
		err = u.UnmarshalBinary(pt[8:])
	} else {
		err = json.Unmarshal(pt[8:], v)
	}
	return exp, err == nil
}

// clear deletes the cookies of base that the request has.
func (j *cookieJar) clear(w http.ResponseWriter, r *http.Request, base string, sameSite http.SameSite) {
	name := j.name(base)
	for i := 0; i < maxChunks; i++ {
		cn := name
		if i > 0 {
			cn = name + "." + strconv.Itoa(i)
		}
		if _, err := r.Cookie(cn); err == nil {
			http.SetCookie(w, j.cookie(cn, "", -1, sameSite))
		}
	}
}

func (j *cookieJar) cookie(name, value string, maxAge int, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, Secure: j.secure, HttpOnly: true, SameSite: sameSite}
}

type bffError string

func (e bffError) Error() string { return string(e) }

const errTooLarge = bffError("bff: the session is too large for its cookies")
