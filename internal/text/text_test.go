package text_test

import (
	"errors"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/text"
)

func TestLine(t *testing.T) {
	for _, s := range []string{"", "Acme Corp", "Zoë – Ünïcödé ✓", `C:\path`, "\u00a0non-breaking"} {
		if err := text.Line(s); err != nil {
			t.Errorf("Line(%q) = %v, want nil", s, err)
		}
	}
	for _, tc := range []struct {
		s    string
		want rune
	}{
		{"a\x00b", 0}, {"\x1b[31mred", 0x1b}, {"ok\r\nforged", '\r'}, {"a\nb", '\n'}, {"a\tb", '\t'},
		{"del\x7f", 0x7f}, {"c1\u0085", 0x85}, {"csi\u009b", 0x9b},
	} {
		err := text.Line(tc.s)
		var ce *text.ControlError
		if !errors.As(err, &ce) || ce.Rune != tc.want {
			t.Errorf("Line(%q) = %v, want a ControlError for %U", tc.s, err, tc.want)
		}
	}
	if got := text.Line("a\x1bb").Error(); got != "must not contain control characters (found U+001B)" {
		t.Errorf("message %q", got)
	}
}

func TestLines(t *testing.T) {
	if err := text.Lines("line one\nline\ttwo"); err != nil {
		t.Errorf("Lines with LF and tab: %v", err)
	}
	for _, s := range []string{"a\rb", "a\x1bb", "a\u0085b", "a\x00b"} {
		if text.Lines(s) == nil {
			t.Errorf("Lines(%q) = nil, want an error", s)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                 "plain",
		"Zoë ✓":                 "Zoë ✓",
		"\x1b[2J\x1b[31mforged": `\x1b[2J\x1b[31mforged`,
		"ok\r\nID  NAME":        `ok\r\nID  NAME`,
		"tab\there":             `tab\there`,
		"nul\x00del\x7f":        `nul\x00del\x7f`,
		"c1\u0085\u009b":        `c1\u0085\u009b`,
		"bad\xffutf8":           `bad\xffutf8`,
		`back\slash`:            `back\slash`,
		"admin\u202etxt.exe":    `admin\u202etxt.exe`,
		"iso\u2066x\u2069":      `iso\u2066x\u2069`,
		"line\u2028sep":         `line\u2028sep`,
		"עברית":                 "עברית",
	} {
		if got := text.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}
