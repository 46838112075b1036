package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

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

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = text(e)
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
			if v, ok := lookup(m, f); ok && text(v) != "" {
				fmt.Fprintf(tw, "%s:\t%s\n", f, text(v))
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
				vals[i] = text(v)
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
