#!/bin/sh
# release.sh builds the release artifacts of g2msync from a clean checkout:
# a static, stripped binary for linux/amd64 and linux/arm64, stamped with
# the version, commit and commit date, each packed with everything the
# README links to: the units, the install script and g2msync-admin, the
# Kubernetes manifests, the Helm chart, the alert rules and the Grafana
# dashboard (scripts/), the example configuration, docs/, the man pages,
# the shell completions, the README and the LICENSE; and SHA256SUMS over
# the archives.
#
#   scripts/release.sh [VERSION]        # default: git describe --tags --always
#   OUT=dir ARCHES="amd64" scripts/release.sh v1.2.3
#
# Reproducible: -trimpath, no VCS stamping, the commit's own date for every
# timestamp (SOURCE_DATE_EPOCH), sorted archive members owned by root.
# An administrator then installs without Go on the host, in the directory
# holding the archive and SHA256SUMS (README.md, "Release artifacts"):
#
#   sha256sum -c --ignore-missing SHA256SUMS &&
#     tar xzf g2msync-VERSION-linux-amd64.tar.gz && cd g2msync-VERSION-linux-amd64 &&
#     sudo ./scripts/install.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
out=${OUT:-$root/dist}
# A release version (v1.2.3 or 1.2.3) is the image tag the chart and the
# manifests pin: they must say the same before it is built.
app=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' scripts/helm/g2msync/Chart.yaml)
if expr "$version" : 'v\{0,1\}[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*$' >/dev/null && [ "${version#v}" != "$app" ]; then
  echo "release.sh: scripts/helm/g2msync/Chart.yaml has appVersion $app, not ${version#v}: set it, the chart's version and the manifests' image tags (scripts/kubernetes/g2msync.yaml, README.md) to ${version#v} first" >&2
  exit 1
fi
mkdir -p "$out"
# The man pages and completions come from the release's own commands, made
# by a build for this host (the archives' binaries may not run here).
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-X main.version=$version" -o "$gen/g2msync" ./cmd/g2msync
mkdir -p "$gen/man" "$gen/completions"
SOURCE_DATE_EPOCH=$epoch "$gen/g2msync" man "$gen/man"
"$gen/g2msync" completion bash >"$gen/completions/g2msync.bash"
"$gen/g2msync" completion zsh >"$gen/completions/_g2msync"
"$gen/g2msync" completion fish >"$gen/completions/g2msync.fish"
for arch in ${ARCHES:-amd64 arm64}; do
  name=g2msync-$version-linux-$arch
  stage=$(mktemp -d)
  mkdir -p "$stage/$name/scripts" "$stage/$name/config"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.version=$version -X main.commit=$commit -X main.date=$date" \
    -o "$stage/$name/g2msync" ./cmd/g2msync
  cp scripts/install.sh scripts/g2msync-admin scripts/*.service "$stage/$name/scripts/"
  cp -R scripts/kubernetes scripts/helm scripts/monitoring "$stage/$name/scripts/"
  cp config/g2msync.example.yaml "$stage/$name/config/"
  cp -R docs "$gen/man" "$gen/completions" "$stage/$name/"
  cp README.md LICENSE "$stage/$name/"
  chmod -R u+rwX,go+rX,go-w "$stage/$name"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
  rm -rf "$stage"
  echo "built $out/$name.tar.gz"
done
(cd "$out" && sha256sum g2msync-"$version"-linux-*.tar.gz >SHA256SUMS)
echo "checksums in $out/SHA256SUMS"
