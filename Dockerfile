# syntax=docker/dockerfile:1
# Builds the throng image used by `throng k8s` manifests: a release binary on a slim, non-root base.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin throng && strip target/release/throng

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/throng /usr/local/bin/throng
# The manifests run as 65532 with a read-only root filesystem; results go to a mounted volume.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["/usr/local/bin/throng"]
CMD ["--help"]
