# The `citizen` image the k8s/ manifests run. Build: docker build -t citizen:latest .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The web-push crate encrypts payloads with OpenSSL.
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin citizen

FROM debian:bookworm-slim
# libheif-examples: heif-convert decodes iPhones' HEIC photos, in a process of its own.
# libssl3: Web Push payload encryption.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libheif-examples libssl3 \
    && rm -rf /var/lib/apt/lists/* && useradd --uid 10001 --no-create-home citizen
COPY --from=build /src/target/release/citizen /usr/local/bin/citizen
USER 10001
EXPOSE 8080
ENTRYPOINT ["citizen"]
CMD ["serve", "--target", "all", "--listen", "0.0.0.0:8080"]
