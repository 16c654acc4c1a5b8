# The on-prem order processor (cmd/processor) for ECS Anywhere.
# A static binary (CGO_ENABLED=0: the SQLite driver is pure Go) on distroless
# static (CA certificates, tzdata, a non-root user, no shell).
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/homeregion-processor:<tag> --push .
#
# The site database defaults to SQLite at /data/orders.db: mount a host
# directory there (onprem.yaml does) or set SITE_DB_DSN to a postgres:// URL.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY shared/ shared/
COPY cmd/processor/ cmd/processor/
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/processor ./cmd/processor && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/processor /processor
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]
USER 65532:65532
ENTRYPOINT ["/processor"]
