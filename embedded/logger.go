package embedded

import (
	"context"
	"fmt"
	"log/slog"
)

// logAdapter implements nats-server's server.Logger on a *slog.Logger.
// It is installed even when Config.Logger is nil, because it also reports
// the first fatal error, which is how nats-server says that Start failed
// (a listener that cannot bind, a store that cannot open).
type logAdapter struct {
	log   *slog.Logger    // nil: discard
	fatal chan error      // capacity 1: the first fatal error
	ctx   context.Context // for slog; never cancelled
}

func newLogAdapter(l *slog.Logger) *logAdapter {
	return &logAdapter{log: l, fatal: make(chan error, 1), ctx: context.Background()}
}

// debugEnabled reports whether nats-server should produce debug messages.
func (a *logAdapter) debugEnabled() bool {
	return a.log != nil && a.log.Enabled(a.ctx, slog.LevelDebug)
}

func (a *logAdapter) emit(level slog.Level, format string, v []any) {
	if a.log == nil || !a.log.Enabled(a.ctx, level) {
		return
	}
	a.log.Log(a.ctx, level, fmt.Sprintf(format, v...))
}

// Noticef logs at Info.
func (a *logAdapter) Noticef(format string, v ...any) { a.emit(slog.LevelInfo, format, v) }

// Warnf logs at Warn.
func (a *logAdapter) Warnf(format string, v ...any) { a.emit(slog.LevelWarn, format, v) }

// Errorf logs at Error.
func (a *logAdapter) Errorf(format string, v ...any) { a.emit(slog.LevelError, format, v) }

// Debugf logs at Debug.
func (a *logAdapter) Debugf(format string, v ...any) { a.emit(slog.LevelDebug, format, v) }

// Tracef logs at Debug; the server's trace flag is never set, so it is
// rarely called.
func (a *logAdapter) Tracef(format string, v ...any) { a.emit(slog.LevelDebug, format, v) }

// Fatalf logs at Error and records the first fatal error. Unlike
// nats-server's own logger it never exits the process.
func (a *logAdapter) Fatalf(format string, v ...any) {
	a.emit(slog.LevelError, format, v)
	select {
	case a.fatal <- fmt.Errorf(format, v...):
	default:
	}
}
