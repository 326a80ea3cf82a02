# syntax=docker/dockerfile:1
#
# g2msync container image: a static binary on distroless, running as a
# non-root user, state on a volume, health checked by the binary itself.
#
#   docker build -t g2msync --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d --name g2msync -v g2msync-state:/var/lib/g2msync \
#     -v /etc/g2msync/g2msync.yaml:/etc/g2msync/g2msync.yaml:ro \
#     -e G2MSYNC_ENTRA_CLIENT_SECRET_FILE=/run/secrets/entra-client-secret ... g2msync
#
# Configuration may also come from the environment only (G2MSYNC_*).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/g2msync ./cmd/g2msync \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/g2msync /usr/local/bin/g2msync
COPY --from=build --chown=65532:65532 /out/state /var/lib/g2msync
ENV G2MSYNC_STATE_PATH=/var/lib/g2msync/state.db \
    G2MSYNC_LISTEN=0.0.0.0:9464 \
    G2MSYNC_CONSOLE_DISABLED=true \
    G2MSYNC_LOG_FORMAT=json
# The web console needs operators on an address other hosts reach: to use it,
# mount an operators file and set G2MSYNC_CONSOLE_DISABLED=false and
# G2MSYNC_CONSOLE_OPERATORS_FILE=/run/secrets/g2msync-operators.
VOLUME ["/var/lib/g2msync"]
EXPOSE 9464
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/g2msync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/g2msync"]
CMD ["run"]
