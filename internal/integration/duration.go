package integration

import (
	"encoding/json"
	"errors"
	"time"
)

// Duration is a time.Duration written as in Go ("5s", "1m").
type Duration time.Duration

// MarshalJSON writes "5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "5s"-style durations.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration such as "5s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`must be a duration such as "5s"`)
	}
	*d = Duration(v)
	return nil
}
