package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/g2msync/g2msync/pkg/netfail"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// Log attribute keys, in the project's vocabulary.
const (
	logAPI      = "api"
	logStatus   = "status"
	logAttempt  = "attempt"
	logDuration = "duration_ms"
	logMethod   = "method"
	logPath     = "path"
	logError    = "error"
	logRetry    = "retry_after"
)

type readMeterKey struct{}
type attemptsKey struct{}

// readMeter counts the HTTP requests of one Read, token requests included.
type readMeter struct{ calls atomic.Int64 }

// attempts counts the Graph requests of one logical call, retries included.
type attempts struct{ n atomic.Int64 }

func withReadMeter(ctx context.Context) (context.Context, *readMeter) {
	m := &readMeter{}
	return context.WithValue(ctx, readMeterKey{}, m), m
}

func withAttempts(ctx context.Context) (context.Context, *attempts) {
	a := &attempts{}
	return context.WithValue(ctx, attemptsKey{}, a), a
}

// meter is the innermost transport under kiota's middleware and azidentity:
// it sees every attempt, so it counts them, logs them at debug level, and
// buffers error bodies. Buffering matters because kiota-http-go v1.5.4's
// RetryHandler drops the responses it retries without closing them
// (retry_handler.go retryRequest), which would otherwise pin a connection
// per retry.
//
// It also bounds each attempt by timeout. The bound must be per attempt, not
// the http.Client's Timeout: the retry handler runs inside the client, so a
// client-wide timeout would also count the Retry-After waits between
// attempts and fail a read that Graph merely throttled.
type meter struct {
	next      http.RoundTripper
	graphHost string
	log       *slog.Logger
	timeout   time.Duration // per attempt; 0: none
	maxBody   int64         // decoded bytes a reply may hold; 0: no limit
}

func (m *meter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if rm, ok := ctx.Value(readMeterKey{}).(*readMeter); ok {
		rm.calls.Add(1)
	}
	api := "entra"
	if req.URL.Host == m.graphHost {
		api = "graph"
		if a, ok := ctx.Value(attemptsKey{}).(*attempts); ok {
			a.n.Add(1)
		}
	}
	start := time.Now()
	cancel := context.CancelFunc(func() {})
	if m.timeout > 0 {
		var actx context.Context
		actx, cancel = context.WithTimeout(ctx, m.timeout)
		req = req.WithContext(actx)
	}
	res, err := m.next.RoundTrip(req)
	if err != nil {
		cancel()
	} else {
		// The transport has decoded any gzip by now: the bound is on what a
		// reply expands to, so a small compressed bomb is cut as well.
		res.Body = &cancelOnClose{ReadCloser: capBody(res.Body, m.maxBody), cancel: cancel}
	}
	attrs := []any{slog.String(logAPI, api), slog.String(logMethod, req.Method), slog.String(logPath, req.URL.Path),
		slog.Int64(logDuration, time.Since(start).Milliseconds())}
	if err != nil {
		m.log.DebugContext(ctx, "http call failed", append(attrs, slog.String(logError, err.Error()))...)
		// http.Client adds the url.Error after this; netfail reads the
		// request's URL from it (a proxy's refusal is a bare reason phrase).
		if netfail.Lasting(&url.Error{Op: req.Method, URL: req.URL.String(), Err: err}) {
			// An unknown name or an untrusted certificate: azcore's retry
			// policy would try it again for seconds to the same end.
			return nil, &lastingError{err}
		}
		return nil, err
	}
	m.log.DebugContext(ctx, "http call", append(attrs, slog.Int(logStatus, res.StatusCode))...)
	if res.StatusCode >= 400 {
		body, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
	}
	return res, nil
}

// middleware returns kiota's and Graph's handlers in a fixed order, with
// the retry handler configured. kiota's GetDefaultMiddlewares builds its list
// from a map, so its order changes from run to run. Compression must come
// before (wrap) the retry handler, as the Graph SDK design requires
// (msgraph-sdk-design middleware/CompressionHandler.md) and kiota-http-go
// issue #183 / PR #184 confirm: otherwise a retried POST goes out with
// "Content-Encoding: gzip" and a plain body. The retried-getByIds test
// against graphsim caught exactly that (400, body not gzip).
func middleware(maxRetries int, log *slog.Logger) []khttp.Middleware {
	opts := msgraphsdk.GetDefaultClientOptions()
	retry := khttp.RetryHandlerOptions{
		MaxRetries: maxRetries,
		ShouldRetry: func(delay time.Duration, executionCount int, req *http.Request, res *http.Response) bool {
			if maxRetries < 0 {
				return false
			}
			log.WarnContext(req.Context(), "graph call throttled or unavailable, retrying",
				slog.String(logAPI, "graph"), slog.String(logPath, req.URL.Path), slog.Int(logStatus, res.StatusCode),
				slog.Int(logAttempt, executionCount+1), slog.String(logRetry, res.Header.Get("Retry-After")))
			return true
		},
	}
	if maxRetries < 0 {
		retry.MaxRetries = 1
	}
	return []khttp.Middleware{
		msgraphcore.NewGraphTelemetryHandler(&opts),
		khttp.NewCompressionHandler(),
		khttp.NewRetryHandlerWithOptions(retry),
		// No RedirectHandler: Graph does not redirect g2msync's calls, and a
		// redirect is refused (Source's CheckRedirect) rather than followed.
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
}

// cancelOnClose ends an attempt's timeout context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// errTooLarge ends the read of a reply that exceeds the bound.
type errTooLarge struct{ max int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("the reply is larger than %d MiB; refusing to read more of it", e.max>>20)
}

// cappedBody fails a read that goes past max bytes instead of holding them.
type cappedBody struct {
	io.ReadCloser
	left, max int64
}

func capBody(b io.ReadCloser, max int64) io.ReadCloser {
	if max <= 0 {
		return b
	}
	return &cappedBody{ReadCloser: b, left: max, max: max}
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One more byte tells a reply of exactly max bytes from a longer one.
		var one [1]byte
		if n, _ := c.ReadCloser.Read(one[:]); n > 0 {
			return 0, errTooLarge{c.max}
		}
		return c.ReadCloser.Read(p)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}

// lastingError is a transport failure that retrying cannot mend
// (netfail.Lasting); it tells azcore's retry policy to give up at once and
// keeps the failure for errors.As.
type lastingError struct{ err error }

func (e *lastingError) Error() string { return e.err.Error() }
func (e *lastingError) Unwrap() error { return e.err }

// NonRetriable marks the error for azcore (errorinfo.NonRetriable).
func (*lastingError) NonRetriable() {}
