package generator

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynamo-cmp/dynamo-cmp/internal/registry"
	"github.com/dynamo-cmp/dynamo-cmp/internal/secret"
)

// GetParamsPath is where Argo CD's plugin generator posts: <baseUrl>/api/v1/getparams.execute.
const GetParamsPath = "/api/v1/getparams.execute"

// MaxRequestBody bounds a generator request's body.
const MaxRequestBody = 1 << 20

// GetParamsRequest is the body Argo CD's plugin generator sends.
type GetParamsRequest struct {
	ApplicationSetName string `json:"applicationSetName"`
	Input              struct {
		Parameters map[string]json.RawMessage `json:"parameters"`
	} `json:"input"`
}

// ErrorBody is the JSON of an error answer. Argo CD shows "error" in the ApplicationSet's
// status.
type ErrorBody struct {
	Error  string       `json:"error"`
	Errors []FieldError `json:"errors,omitempty"`
}

func writeJSONError(w http.ResponseWriter, code int, msg string, fields []FieldError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: msg, Errors: fields})
}

func writeFieldErrors(w http.ResponseWriter, errs []FieldError) {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	writeJSONError(w, http.StatusBadRequest, strings.Join(msgs, "; "), errs)
}

// MinTokenBytes is the shortest generator token accepted: 32 bytes, as many as the 256
// bits of `openssl rand -hex 32` (which makes 64 characters). A shorter token can be guessed
// by whoever reaches the generator.
const MinTokenBytes = 32

// Handler answers Argo CD's plugin generator.
type Handler struct {
	// Token is the bearer token Argo CD's plugin generator sends.
	Token secret.Secret
	// PreviousToken, when set, is accepted as well: the token being replaced during a
	// rotation, until its value is removed ("" accepts nothing).
	PreviousToken secret.Secret
	Cache         *registry.Cache
	Log           *slog.Logger
	Metrics       *Metrics
	Now           func() time.Time

	mu      sync.Mutex              // serializes the encoding of a new snapshot's answers
	answers atomic.Pointer[answers] // of the latest snapshot
}

// authorized checks the bearer token in constant time (over digests, so the length of the
// expected token does not show either) against the token and, during a rotation, the
// previous one. A token shorter than MinTokenBytes (a rotated file holding one) matches
// nothing.
func (s *Handler) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	match := 0
	for _, sec := range []secret.Secret{s.Token, s.PreviousToken} {
		if sec == nil {
			continue
		}
		want, err := sec.Value()
		if err != nil || want == "" {
			continue
		}
		if len(want) < MinTokenBytes {
			s.Log.Error("generator: the configured token is shorter than 32 bytes and is refused; generate one with openssl rand -hex 32")
			continue
		}
		exp := sha256.Sum256([]byte(want))
		match |= subtle.ConstantTimeCompare(got[:], exp[:])
	}
	return match == 1
}

// ServeHTTP answers Argo CD's plugin generator: one parameter set per registered cluster the
// input's filter selects, in cluster name order.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dynamo-cmp"`)
		writeJSONError(w, http.StatusUnauthorized, "unauthorized", nil)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "use POST", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", MaxRequestBody), []FieldError{{Field: "body", Message: "too large"}})
			return
		}
		writeJSONError(w, http.StatusBadRequest, "body: cannot be read", []FieldError{{Field: "body", Message: "cannot be read"}})
		return
	}
	var req GetParamsRequest
	if ferr := decodeRequest(body, &req); ferr != nil {
		writeFieldErrors(w, []FieldError{*ferr})
		return
	}
	filter, ferrs := ParseFilter(req.Input.Parameters)
	if len(ferrs) > 0 {
		writeFieldErrors(w, ferrs)
		return
	}
	snap, result, err := s.Cache.Get(r.Context())
	if result != "" {
		s.Metrics.Cache.WithLabelValues(result).Inc()
	}
	if err != nil {
		if snap == nil {
			s.Log.Error("generator: the registry cannot be read", "applicationSet", req.ApplicationSetName, "error", err)
			writeJSONError(w, http.StatusServiceUnavailable, "the cluster registry cannot be read from DynamoDB; try again", nil)
			return
		}
		s.Log.Warn("generator: the registry cannot be read, serving the last snapshot", "applicationSet", req.ApplicationSetName,
			"snapshotAge", s.Now().Sub(snap.ReadAt).String(), "error", err)
	}
	answers := s.answersFor(snap)
	answer := answers.all
	if !filter.Empty() {
		key, _ := json.Marshal(req.Input.Parameters) // sorted keys: the same filter, the same key
		answer = answers.filteredAnswer(string(key), filter)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Encoding")
	if len(answer.raw) >= minGzip && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		_, _ = w.Write(answer.gzipped())
		return
	}
	_, _ = w.Write(answer.raw)
}

// acceptsGzip reports whether the client takes gzip (Go's HTTP client, which Argo CD uses,
// asks for it and decompresses transparently).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// decodeRequest decodes a generator request, naming the field of a problem.
func decodeRequest(body []byte, req *GetParamsRequest) *FieldError {
	if len(bytes.TrimSpace(body)) == 0 {
		return &FieldError{Field: "body", Message: "empty: expected {\"applicationSetName\": ..., \"input\": {\"parameters\": {...}}}"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(req); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return &FieldError{Field: typeErr.Field, Message: fmt.Sprintf("must be a JSON %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)}
		case errors.As(err, &typeErr):
			return &FieldError{Field: "body", Message: fmt.Sprintf("must be a JSON object, not %s", typeErr.Value)}
		case errors.As(err, &syntaxErr):
			return &FieldError{Field: "body", Message: fmt.Sprintf("not valid JSON at byte %d: %v", syntaxErr.Offset, err)}
		default:
			return &FieldError{Field: "body", Message: "not valid JSON: " + err.Error()}
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Field: "body", Message: "unexpected data after the JSON object"}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return goKind
	}
}
