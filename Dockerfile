# A static image of the controller (and selfscale, for broker images that
# want to copy it in).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/controller ./cmd/selfscale

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/controller /out/selfscale /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/controller"]
