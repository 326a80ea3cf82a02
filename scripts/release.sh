#!/bin/sh
# release.sh builds the release artifacts of g2msync from a clean checkout:
# a static, stripped binary for linux/amd64 and linux/arm64, stamped with
# the version, commit and commit date, each packed with the units, the
# install script, the example configuration, the README and the LICENSE,
# and SHA256SUMS over the archives.
#
#   scripts/release.sh [VERSION]        # default: git describe --tags --always
#
# Reproducible: -trimpath, no VCS stamping, the commit's own date for every
# timestamp (SOURCE_DATE_EPOCH), sorted archive members owned by root.
# An administrator then installs without Go on the host:
#
#   tar xzf g2msync-VERSION-linux-amd64.tar.gz && cd g2msync-VERSION-linux-amd64
#   sha256sum -c --ignore-missing ../SHA256SUMS && sudo ./scripts/install.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
out=${OUT:-$root/dist}
mkdir -p "$out"
for arch in ${ARCHES:-amd64 arm64}; do
  name=g2msync-$version-linux-$arch
  stage=$(mktemp -d)
  mkdir -p "$stage/$name/scripts" "$stage/$name/config"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.version=$version -X main.commit=$commit -X main.date=$date" \
    -o "$stage/$name/g2msync" ./cmd/g2msync
  cp scripts/install.sh scripts/g2msync-admin scripts/*.service "$stage/$name/scripts/"
  cp config/g2msync.example.yaml "$stage/$name/config/"
  cp README.md LICENSE "$stage/$name/"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
  rm -rf "$stage"
  echo "built $out/$name.tar.gz"
done
(cd "$out" && sha256sum g2msync-"$version"-linux-*.tar.gz >SHA256SUMS)
echo "checksums in $out/SHA256SUMS"
