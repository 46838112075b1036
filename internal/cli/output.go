package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse-id/gatehouse/internal/text"
)

// visible returns raw with the control characters in its strings escaped
// (\x1b, \r, \n, \u0085; see text.Escape), so that values stored before
// such characters were refused cannot forge the text output: every show
// function prints what visible returns, never the server's bytes.
func visible(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	return json.Marshal(escapeStrings(v))
}

func escapeStrings(v any) any {
	switch x := v.(type) {
	case string:
		return text.Escape(x)
	case []any:
		for i := range x {
			x[i] = escapeStrings(x[i])
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[text.Escape(k)] = escapeStrings(e)
		}
		return out
	}
	return v
}

// lookup finds a dotted path ("endpoints.token_endpoint") in a JSON object.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func display(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = display(e)
		}
		return strings.Join(parts, ",")
	case float64:
		return fmt.Sprint(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// showFields prints "field: value" lines for the fields present.
func showFields(fields ...string) func(io.Writer, json.RawMessage) error {
	return func(w io.Writer, raw json.RawMessage) error {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range fields {
			if v, ok := lookup(m, f); ok && display(v) != "" {
				fmt.Fprintf(tw, "%s:\t%s\n", f, display(v))
			}
		}
		return tw.Flush()
	}
}

// showList prints a table of a list response's items.
func showList(cols ...string) func(io.Writer, json.RawMessage) error {
	return func(w io.Writer, raw json.RawMessage) error {
		var l struct {
			Items      []map[string]any `json:"items"`
			NextCursor string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
		for _, it := range l.Items {
			vals := make([]string, len(cols))
			for i, c := range cols {
				v, _ := lookup(it, c)
				vals[i] = display(v)
			}
			fmt.Fprintln(tw, strings.Join(vals, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if l.NextCursor != "" {
			fmt.Fprintf(w, "more: --cursor %s\n", l.NextCursor)
		}
		return nil
	}
}
