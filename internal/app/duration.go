package app

import (
	"encoding/json"
	"reflect"
	"time"
)

// badDuration is a *json.UnmarshalTypeError so that the decoder adds the
// name of the offending field to it. It must be a new value each time: the
// decoder writes the field path into the error it gets, so a shared one
// would collect the paths of every bad duration ever decoded
// ("access_token_lifetime.access_token_lifetime").
func badDuration() error {
	return &json.UnmarshalTypeError{Value: "duration", Type: reflect.TypeFor[Duration]()}
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("15m0s"); it also reads a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return badDuration()
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil || n < 0 || n > int64(10*365*24*time.Hour/time.Second) {
		return badDuration()
	}
	*d = Duration(time.Duration(n) * time.Second)
	return nil
}
