package sources

import (
	"encoding/json"
	"strings"
	"testing"
)

// A signal's data that is not what execute-snapshot needs is refused
// naming why, never quoting the data.
func TestJSONReasonQuotesNothing(t *testing.T) {
	for data, want := range map[string]string{
		`{"data-collections": "s3cret-value"}`: "data-collections is not a []string",
		`s3cret-value`:                         "not JSON (at byte 1)",
		`{"type": "incremental"}`:              "no data-collections",
		`["s3cret-value"]`:                     "not a JSON object",
	} {
		var d struct {
			Collections []string `json:"data-collections"`
			Type        string   `json:"type"`
		}
		err := json.Unmarshal([]byte(data), &d)
		if len(d.Collections) > 0 {
			err = nil
		}
		got := jsonReason(err)
		if !strings.Contains(got, want) || strings.Contains(got, "s3cret") {
			t.Errorf("%s: %q, want %q and no value", data, got, want)
		}
	}
}
