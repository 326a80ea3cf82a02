#!/bin/sh
# install.sh installs g2msync as a systemd service. Run it as root from a
# source checkout (it builds the binary) or next to a built g2msync binary:
#
#   sudo scripts/install.sh            # build, install, enable (not start)
#
# It creates the g2msync system user, /etc/g2msync (configuration and
# credentials, root only), installs the units and g2msync-admin, and prints
# the steps left: secrets, login, initial sync, start.
set -eu

prefix=/usr/local
confdir=/etc/g2msync
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0)" >&2
  exit 1
fi

if [ -x "$root/g2msync" ]; then
  bin="$root/g2msync"
elif command -v go >/dev/null 2>&1 && [ -f "$root/go.mod" ]; then
  echo "building g2msync ..."
  (cd "$root" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.version=$(git -C "$root" describe --tags --always 2>/dev/null || echo dev)" \
    -o "$root/g2msync" ./cmd/g2msync)
  bin="$root/g2msync"
else
  echo "install.sh: no g2msync binary next to this script, and no Go toolchain for root to build one." >&2
  echo "  Install from a release archive (scripts/release.sh builds them; it holds the binary)," >&2
  echo "  or build first as yourself:  go build -o g2msync ./cmd/g2msync  and run sudo $0 again." >&2
  exit 1
fi

install -m 0755 "$bin" "$prefix/bin/g2msync"
install -m 0755 "$here/g2msync-admin" "$prefix/sbin/g2msync-admin"

if ! getent passwd g2msync >/dev/null; then
  useradd --system --home-dir /var/lib/g2msync --no-create-home --shell /usr/sbin/nologin g2msync
fi

install -d -m 0700 -o g2msync -g g2msync /var/lib/g2msync
install -d -m 0755 "$confdir"
install -d -m 0700 "$confdir/credentials"
if [ ! -f "$confdir/g2msync.yaml" ]; then
  # The service reads secrets from its credentials, not from *_file keys.
  sed -e 's|^\(  client_secret_file:\).*|\1 ""|' "$root/config/g2msync.example.yaml" > "$confdir/g2msync.yaml"
  chmod 0644 "$confdir/g2msync.yaml"
  echo "wrote $confdir/g2msync.yaml: edit it (tenant, app, GoTo account, roles)"
fi
# The units load each of these as a systemd credential; empty ones are ignored.
for c in entra-client-secret entra-certificate-password goto-client-secret goto-refresh-token \
         goto-personal-access-token goto-password notify-smtp-password status-token; do
  if [ ! -f "$confdir/credentials/$c" ]; then
    install -m 0600 /dev/null "$confdir/credentials/$c"
  fi
done
echo "put the Entra and GoTo client secrets in $confdir/credentials/entra-client-secret and goto-client-secret"

install -m 0644 "$here/g2msync.service" /etc/systemd/system/g2msync.service
install -m 0644 "$here/g2msync-initial-sync.service" /etc/systemd/system/g2msync-initial-sync.service
install -m 0644 "$here/g2msync@.service" /etc/systemd/system/g2msync@.service
systemctl daemon-reload
systemctl enable g2msync.service >/dev/null

cat <<TXT

g2msync is installed and enabled, not started. Next:
  1. Edit $confdir/g2msync.yaml and put the secrets in $confdir/credentials/.
  2. sudo g2msync-admin check                  # test both connections
  3. sudo g2msync-admin login goto             # first GoTo refresh token
  4. sudo g2msync-admin plan                   # see what the first sync will do
  5. sudo systemctl start g2msync-initial-sync # full sync; starts the daemon after
  6. journalctl -u g2msync -f;  g2msync-admin status;  curl -s 127.0.0.1:9464/status
TXT
