// Package ui holds the server-rendered pages that end users see (R-OID-9):
// html/template files and a stylesheet embedded in the binary, and the
// per-tenant Theme they are drawn with.
//
// The pages need no JavaScript and follow WCAG 2.1 AA practice: a lang
// attribute, a label for every input, error messages tied to their fields
// with aria-describedby (and announced with role="alert"), a visible focus
// outline and a focus order that follows the reading order. Colours come
// only from a Theme that passed Sanitize, so nothing but #rrggbb reaches CSS.
//
// It is a leaf package: it imports nothing of Gatehouse.
package ui
