package serve

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzGetParams sends arbitrary bodies to the generator API with a valid token: the server
// never panics and always answers JSON — the parameter sets, or a 4xx whose error says what is
// wrong in bounded size.
func FuzzGetParams(f *testing.F) {
	for _, seed := range []string{
		`{"applicationSetName":"a","input":{"parameters":{}}}`,
		`{"applicationSetName":"a","input":{"parameters":{"environment":"dev","labelSelector":"tier in (gold)","namePattern":["dev-*"]}}}`,
		`{"applicationSetName":"a","input":{"parameters":{"environment":["dev","prod"],"region":"eu-west-1"}}}`,
		`{"applicationSetName":"a","input":{"parameters":{"labelSelector":"!!!"}}}`,
		`{"applicationSetName":"a","input":{"parameters":{"unknown":1}}}`,
		`{"input":null}`, `[]`, `{`, ``, `{"applicationSetName":"` + strings.Repeat("x", 10000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	st, _ := newStore(f)
	seed(f, st)
	opts := baseOptions(f, st)
	opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil)) // the fuzz target may not log through f
	s, err := New(opts)
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, GetParamsPath, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var answer struct {
			Output *struct {
				Parameters []map[string]any `json:"parameters"`
			} `json:"output"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %v\n%.300s", rec.Code, err, rec.Body.Bytes())
		}
		switch {
		case rec.Code == http.StatusOK:
			if answer.Output == nil {
				t.Fatalf("200 without output: %.300s", rec.Body.Bytes())
			}
		case rec.Code == http.StatusBadRequest || rec.Code == http.StatusRequestEntityTooLarge:
			if answer.Error == "" || len(rec.Body.Bytes()) > 16<<10 {
				t.Fatalf("status %d: the error must say what is wrong, briefly (%d bytes): %.300s", rec.Code, rec.Body.Len(), rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d for a request body: %.300s", rec.Code, rec.Body.Bytes())
		}
	})
}
