package integration

import (
	"errors"
	"net/url"
	"strings"
)

// MaxPathLen bounds a call's path below the base URL.
const MaxPathLen = 2048

// CleanPath checks the path of a call below the base URL (R-INT-4) and
// returns it escaped, without a leading slash, to append to the base URL's
// path. raw is as the caller sent it (escaped). Nothing that could leave the
// base URL or mean two things to two parsers passes: dot segments (also
// percent-encoded), encoded slashes and backslashes, backslashes, '@',
// empty segments ("//", which some servers read as an authority),
// absolute URLs, double encoding, NUL and control characters.
func CleanPath(raw string) (string, error) {
	raw = strings.TrimPrefix(raw, "/")
	if raw == "" {
		return "", nil
	}
	if len(raw) > MaxPathLen {
		return "", errors.New("the path is too long")
	}
	if strings.Contains(raw, "://") {
		return "", errors.New("the path must be relative to the base URL, not a URL")
	}
	segs := strings.Split(raw, "/")
	out := make([]string, len(segs))
	for i, s := range segs {
		if s == "" && i != len(segs)-1 {
			return "", errors.New("the path has an empty segment (//)")
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", errors.New("the path has a bad percent-escape")
		}
		if d == "." || d == ".." {
			return "", errors.New("the path has a dot segment (. or ..)")
		}
		for j := 0; j < len(d); j++ {
			switch c := d[j]; {
			case c < 0x20 || c == 0x7f:
				return "", errors.New("the path has a control character")
			case c == '/' || c == '\\':
				return "", errors.New("the path has a slash or backslash inside a segment (encoded, or a backslash)")
			case c == '@':
				return "", errors.New("the path has an '@'")
			case c == '%':
				return "", errors.New("the path is encoded twice")
			}
		}
		out[i] = url.PathEscape(d)
	}
	clean := strings.Join(out, "/")
	if len(clean) > MaxPathLen {
		return "", errors.New("the path is too long")
	}
	return clean, nil
}
