// Package text holds the one rule for the free text that administrators
// store and the server and CLI show back (tenant display names, application
// descriptions, user names, role and permission descriptions, theme texts):
// no control characters, so that a stored value cannot forge a terminal's
// output, a log line or a page (issue 8 §7). Escape renders the control
// characters of text stored before the rule visibly.
//
// A leaf: it imports nothing internal, so every package may use it.
package text

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// IsControl reports a C0 or C1 control character: U+0000–U+001F and
// U+007F–U+009F (DEL and the C1 set).
func IsControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// ControlError is text holding a control character it may not hold. Its
// message completes "<field>: ".
type ControlError struct {
	Rune rune
	// Multiline: line feeds and tabs were allowed.
	Multiline bool
}

func (e *ControlError) Error() string {
	if e.Multiline {
		return fmt.Sprintf("must not contain control characters other than line feed and tab (found %U)", e.Rune)
	}
	return fmt.Sprintf("must not contain control characters (found %U)", e.Rune)
}

// Line returns a *ControlError naming the first control character in s, or
// nil when s has none.
func Line(s string) error { return check(s, false) }

// Lines is Line for a field documented as multi-line: it allows line feeds
// (U+000A) and tabs (U+0009), and nothing else of the controls (a carriage
// return could still overwrite a line on a terminal).
func Lines(s string) error { return check(s, true) }

func check(s string, multiline bool) error {
	for _, r := range s {
		if IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return &ControlError{Rune: r, Multiline: multiline}
		}
	}
	return nil
}

// isReordering reports the characters that move or break text without being
// controls: the line and paragraph separators (U+2028, U+2029) and the
// bidirectional embeddings, overrides and isolates (U+202A–U+202E,
// U+2066–U+2069), which can make a name read as something else
// ("Trojan Source"). They are allowed in stored text (right-to-left
// names need some) but shown escaped in a terminal.
func isReordering(r rune) bool {
	return r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// Escape renders s for a terminal: control characters, reordering
// characters and bytes that are not UTF-8 become visible Go escapes (\n,
// \r, \t, \x1b, \u0085, \u202e, \xff); everything else, backslashes
// included, is kept as is.
func Escape(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return IsControl(r) || isReordering(r) || r == utf8.RuneError }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case IsControl(r) || isReordering(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
