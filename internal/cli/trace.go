package cli

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// levelOff disables the JSON step log.
const levelOff = slog.Level(100)

// logLevel reads DYNAMO_CMP_LOG_LEVEL (or ARGOCD_ENV_DYNAMO_CMP_LOG_LEVEL from an
// Application): debug, info, warn or error. The default is no JSON log at all: quiet on
// success, and on failure only the one-paragraph message, since Argo CD shows a plugin's
// stderr to users.
func logLevel(env Env) slog.Level {
	switch strings.ToLower(env.Get("ARGOCD_ENV_DYNAMO_CMP_LOG_LEVEL", "DYNAMO_CMP_LOG_LEVEL")) {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return levelOff
	}
}

// stepLogger writes one JSON line per step of a run to stderr: {"time", "level", "msg",
// "trace", "step": "<trace>-<component>-e<NN>", ...}.
type stepLogger struct {
	log   *slog.Logger
	trace string
	start time.Time
}

func newStepLogger(w io.Writer, level slog.Level, trace string) *stepLogger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return &stepLogger{log: slog.New(h).With("trace", trace), trace: trace, start: time.Now()}
}

// step logs a completed step at info level. id is "<component>-e<NN>", e.g. "dynamodb-e10".
func (l *stepLogger) step(id, msg string, attrs ...any) {
	attrs = append([]any{"step", l.trace + "-" + id, "elapsedMs", float64(time.Since(l.start).Microseconds()) / 1000}, attrs...)
	l.log.Info(msg, attrs...)
}
