// Package derrors defines the kinds of domain error and maps each to one HTTP
// status, so that every handler renders the same failure the same way.
package derrors

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// Kind classifies a domain error.
type Kind int

// The kinds of domain error.
const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Forbidden
	Unauthenticated
	LimitExceeded
	MethodNotAllowed
	UnsupportedMediaType
)

// Error is a domain error: a kind, the field it concerns (if any) and a message
// that is safe to show to the caller.
type Error struct {
	Kind  Kind
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Msg
	}
	return e.Msg
}

// Invalidf reports bad input for field.
func Invalidf(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// NotFoundf reports a missing resource.
func NotFoundf(format string, args ...any) error {
	return &Error{Kind: NotFound, Msg: fmt.Sprintf(format, args...)}
}

// Conflictf reports a uniqueness or state conflict on field.
func Conflictf(field, format string, args ...any) error {
	return &Error{Kind: Conflict, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limitf reports that a configured limit would be exceeded.
func Limitf(field, format string, args ...any) error {
	return &Error{Kind: LimitExceeded, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Forbiddenf reports an authenticated caller without the right to act.
func Forbiddenf(format string, args ...any) error {
	return &Error{Kind: Forbidden, Msg: fmt.Sprintf(format, args...)}
}

// Unauthenticatedf reports a caller that could not be authenticated.
func Unauthenticatedf(format string, args ...any) error {
	return &Error{Kind: Unauthenticated, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is a domain error of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// HTTPStatus maps a kind to its HTTP status.
func HTTPStatus(k Kind) int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Forbidden:
		return http.StatusForbidden
	case Unauthenticated:
		return http.StatusUnauthorized
	case LimitExceeded:
		return http.StatusUnprocessableEntity
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	default:
		return http.StatusInternalServerError
	}
}

// Unavailable reports whether err says a dependency (the database) could not
// be reached, rather than that the request or the code is wrong: a refused
// or broken connection, a connection the driver gave up, a statement that
// never reached the server, or a PostgreSQL connection exception (SQLSTATE
// class 08), shutdown or start-up (57P01-57P03) or too many connections
// (53300). Such a failure passes once the database is back, so it is
// answered 503 with Retry-After, not 500.
func Unavailable(err error) bool {
	if err == nil || errors.As(err, new(*Error)) {
		return false
	}
	var (
		op    *net.OpError
		state interface{ SQLState() string }
		retry interface{ SafeToRetry() bool }
	)
	switch {
	case errors.As(err, &op), errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &state):
		c := state.SQLState()
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	case errors.As(err, &retry):
		return retry.SafeToRetry()
	}
	return false
}

// StatusOf is the HTTP status of err: its kind's, or 503 when err is a
// domain-less failure that says the database is unavailable.
func StatusOf(err error) int {
	if Unavailable(err) {
		return http.StatusServiceUnavailable
	}
	return HTTPStatus(KindOf(err))
}
