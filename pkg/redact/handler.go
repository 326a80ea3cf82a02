package redact

import (
	"context"
	"log/slog"
)

// Handler wraps h so that every message and text attribute it writes
// passes through Text with secrets: the last guard in front of a log, for
// a remote text some caller forgot to scrub. Attributes that are not text
// (numbers, times, durations) pass as they are.
func Handler(h slog.Handler, secrets ...string) slog.Handler {
	return &handler{next: h, forms: formsOf(secrets)}
}

type handler struct {
	next  slog.Handler
	forms []string // every form of every secret, worked out once
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, scrub(r.Message, h.forms), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(clean), forms: h.forms}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), forms: h.forms}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, scrub(v.String(), h.forms))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = h.attr(x)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, scrub(err.Error(), h.forms))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, scrub(s.String(), h.forms))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
