# dynamo-cmp image: the plugin sidecar of argocd-repo-server, and `dynamo-cmp serve`.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t dynamo-cmp .
#
# The sidecar runs Argo CD's own /var/run/argocd/argocd-cmp-server (mounted from the
# repo-server's var-files volume), which reads /home/argocd/cmp-server/config/plugin.yaml and
# runs `dynamo-cmp generate` directly. No shell is needed at run time.
#
# Both bases are pinned by the digest of their multi-arch index (the tag is kept for people):
# a tag can be moved to another image, a digest cannot. To move to a newer image, take the
# tag's current digest with `crane digest <image>:<tag>` (or `docker buildx imagetools
# inspect`) and replace it here.

FROM golang:1.26-bookworm@sha256:b305420a68d0f229d91eb3b3ed9e519fcf2cf5461da4bef997bf927e8c0bfd2b AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd cmd
COPY internal internal
COPY scripts/build.sh scripts/build.sh
ARG VERSION=dev
RUN scripts/build.sh /out/dynamo-cmp "${VERSION}"

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/dynamo-cmp /usr/local/bin/dynamo-cmp
COPY plugin/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml
# Argo CD's sidecars run as the argocd user (999); HOME must be writable (/tmp is an emptyDir).
USER 999:999
ENV HOME=/tmp
ENTRYPOINT ["/usr/local/bin/dynamo-cmp"]
