package derrors

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

type sqlState string

func (s sqlState) Error() string    { return "ERROR (SQLSTATE " + string(s) + ")" }
func (s sqlState) SQLState() string { return string(s) }

type notSent struct{}

func (notSent) Error() string     { return "conn busy" }
func (notSent) SafeToRetry() bool { return true }

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"refused connection, wrapped", fmt.Errorf("store: get app: %w", fmt.Errorf("failed to connect: %w", refused)), true},
		{"bad connection", fmt.Errorf("x: %w", driver.ErrBadConn), true},
		{"connection cut in a reply", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"statement never sent", fmt.Errorf("q: %w", notSent{}), true},
		{"admin shutdown", sqlState("57P01"), true},
		{"database starting up", sqlState("57P03"), true},
		{"connection failure", sqlState("08006"), true},
		{"too many connections", sqlState("53300"), true},
		{"unique violation", sqlState("23505"), false},
		{"syntax error", sqlState("42601"), false},
		{"no rows", sql.ErrNoRows, false},
		{"client went away", context.Canceled, false},
		{"plain error", errors.New("boom"), false},
		{"domain error around a connection error", fmt.Errorf("%w: %w", NotFoundf("no app"), refused), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unavailable(tc.err); got != tc.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{errors.New("boom"), 500},
		{fmt.Errorf("q: %w", driver.ErrBadConn), 503},
		{NotFoundf("x"), 404},
		{Invalidf("name", "bad"), 400},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
