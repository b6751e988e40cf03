# dynamo-cmp image: the plugin sidecar of argocd-repo-server, and `dynamo-cmp serve`.
# Build it with `make image` (scripts/image.sh): linux/amd64 and linux/arm64 as one OCI index,
# written to bin/dynamo-cmp-image.oci.tar; docs/install.md shows how to push and verify it.
#
# Nothing is pulled: the image is FROM scratch and holds only the static binary that
# scripts/build.sh makes (the binary the tests run, cross-compiled with CGO_ENABLED=0; it
# carries its CA roots), plugin.yaml and the binary's SBOM. The build context is the
# directory scripts/image.sh stages (not the repository):
#
#   plugin.yaml
#   linux-amd64/dynamo-cmp   linux-amd64/sbom.spdx.json
#   linux-arm64/dynamo-cmp   linux-arm64/sbom.spdx.json
#
# With Docker buildx instead of podman: `scripts/image.sh --stage bin/image-context`, then
#   docker buildx build --platform linux/amd64,linux/arm64 -f Dockerfile \
#     --build-arg VERSION=... --build-arg REVISION=... --output type=oci,dest=... bin/image-context
#
# The sidecar runs Argo CD's own /var/run/argocd/argocd-cmp-server (mounted from the
# repo-server's var-files volume), which reads /home/argocd/cmp-server/config/plugin.yaml and
# runs `dynamo-cmp generate` directly. No shell, no libc, no /etc: nothing to patch but the
# binary.

FROM scratch
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/dynamo-cmp/dynamo-cmp
COPY ${TARGETOS}-${TARGETARCH}/dynamo-cmp /usr/local/bin/dynamo-cmp
COPY plugin.yaml /home/argocd/cmp-server/config/plugin.yaml
COPY ${TARGETOS}-${TARGETARCH}/sbom.spdx.json /usr/share/doc/dynamo-cmp/sbom.spdx.json
# Argo CD's sidecars run as the argocd user (999); HOME must be writable (/tmp is an emptyDir).
USER 999:999
ENV PATH=/usr/local/bin HOME=/tmp
LABEL org.opencontainers.image.title=dynamo-cmp \
      org.opencontainers.image.description="Argo CD Config Management Plugin rendering cluster bootstrap configuration kept in DynamoDB" \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.revision=${REVISION} \
      org.opencontainers.image.source=${SOURCE}
ENTRYPOINT ["/usr/local/bin/dynamo-cmp"]
