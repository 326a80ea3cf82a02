#!/bin/sh
# install.sh installs g2msync as a systemd service. Run it as root from a
# release archive (it holds the binary) or from a source checkout (it builds
# the binary):
#
#   sudo scripts/install.sh                 # install; enables and starts nothing
#   sudo scripts/install.sh --uninstall     # remove it; keep configuration and state
#   scripts/install.sh --root DIR           # into DIR, a chroot or a package's tree
#
# It creates the g2msync system user, /etc/g2msync (configuration and
# credentials, root only), installs the binary, g2msync-admin, the units, the
# man pages and the shell completions, and prints the steps left: secrets,
# login, first sync, which starts the daemon. It never overwrites the
# configuration or a credential, so running it again upgrades in place.
#
# The destination root is --root, else $DESTDIR, else /. Into another root,
# or where systemd is not PID 1 (a container, a chroot), it runs no
# systemctl, and says what it skipped. The service is enabled by the
# first-sync step, never here: a daemon started before the first sync
# would only fail.
set -eu

root=${DESTDIR:-/}
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }; root=$2; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$root" in
  /) r= ;;
  /*) r=${root%/} ;;
  *) echo "install.sh: --root must be an absolute path, not $root" >&2; exit 2 ;;
esac

prefix=/usr/local
confdir=/etc/g2msync
unitdir=/etc/systemd/system
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

if [ -z "$r" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo $0), or give a destination root with --root DIR" >&2
  exit 1
fi

# systemctl only for the running system, and only when systemd runs it
# (sd_booted(3): /run/systemd/system exists).
if [ ! -d /run/systemd/system ]; then
  nosystemd="systemd is not running as PID 1 here"
elif [ -n "$r" ]; then
  nosystemd="the destination is $root, not the running system"
else
  nosystemd=
fi
skipped=
skip() { skipped="$skipped
  - $1"; }
systemctl_or_skip() {
  if [ -z "$nosystemd" ]; then
    systemctl "$@"
  else
    skip "systemctl $* ($nosystemd)"
  fi
}
report_skipped() {
  if [ -n "$skipped" ]; then
    printf '\nSkipped:%s\n' "$skipped"
  fi
}

units="g2msync.service g2msync-initial-sync.service g2msync@.service"

if [ "$action" = uninstall ]; then
  # Stop what runs, then remove the enablement links (what systemctl
  # disable removes; done by hand, it works without systemd too).
  if [ -z "$nosystemd" ]; then
    systemctl stop g2msync.service g2msync-initial-sync.service 'g2msync@*.service' 2>/dev/null || true
  else
    skip "stopping the services ($nosystemd)"
  fi
  for link in "$r$unitdir"/*.wants/g2msync.service "$r$unitdir"/*.wants/g2msync@*.service; do
    if [ -L "$link" ]; then rm -f "$link"; echo "disabled $(basename "$link")"; fi
  done
  for f in $units; do rm -f "$r$unitdir/$f"; done
  rm -f "$r$prefix/bin/g2msync" "$r$prefix/sbin/g2msync-admin" \
    "$r$prefix/share/bash-completion/completions/g2msync" "$r$prefix/share/zsh/site-functions/_g2msync" \
    "$r$prefix/share/fish/vendor_completions.d/g2msync.fish"
  rm -f "$r$prefix"/share/man/man1/g2msync.1 "$r$prefix"/share/man/man1/g2msync-*.1
  systemctl_or_skip daemon-reload
  echo "removed g2msync: the binary, g2msync-admin, the units, the man pages and the completions"
  cat <<TXT

Kept, as they hold what only you have:
  $confdir/               the configuration and the credentials
  /var/lib/g2msync/          the state file: which GoTo accounts g2msync owns, the provisioning log
  the g2msync user
Remove them once you no longer need them:
  sudo rm -rf $confdir /var/lib/g2msync && sudo userdel g2msync
TXT
  report_skipped
  exit 0
fi

if [ -x "$top/g2msync" ]; then
  bin="$top/g2msync"
elif command -v go >/dev/null 2>&1 && [ -f "$top/go.mod" ]; then
  echo "building g2msync ..."
  (cd "$top" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.version=$(git -C "$top" describe --tags --always 2>/dev/null || echo dev)" \
    -o "$top/g2msync" ./cmd/g2msync)
  bin="$top/g2msync"
else
  echo "install.sh: no g2msync binary next to this script, and no Go toolchain for root to build one." >&2
  echo "  Install from a release archive (scripts/release.sh builds them; it holds the binary)," >&2
  echo "  or build first as yourself:  go build -o g2msync ./cmd/g2msync  and run sudo $0 again." >&2
  exit 1
fi

install -d "$r$prefix/bin" "$r$prefix/sbin" "$r$unitdir"
install -m 0755 "$bin" "$r$prefix/bin/g2msync"
install -m 0755 "$here/g2msync-admin" "$r$prefix/sbin/g2msync-admin"

# The service's user. In another root, it is made there (useradd --root)
# when that root has a user database and we are root; ownership follows
# that root's database, not this host's.
user_in_root() { grep -q '^g2msync:' "$r/etc/passwd" 2>/dev/null; }
if [ -z "$r" ]; then
  if ! getent passwd g2msync >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/g2msync --no-create-home --shell /usr/sbin/nologin g2msync
  fi
  owner="-o g2msync -g g2msync"
elif user_in_root || { [ -f "$r/etc/passwd" ] && [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null 2>&1 &&
  useradd --root "$r" --system --user-group --home-dir /var/lib/g2msync --no-create-home --shell /usr/sbin/nologin g2msync; }; then
  owner="-o $(grep '^g2msync:' "$r/etc/passwd" | cut -d: -f3) -g $(grep '^g2msync:' "$r/etc/passwd" | cut -d: -f4)"
else
  owner=
  skip "creating the g2msync user and handing it /var/lib/g2msync ($root has no user database, or this is not root): useradd --system --user-group g2msync in the target system"
fi
if [ -n "$owner" ] && [ "$(id -u)" -ne 0 ]; then
  owner=
  skip "handing /var/lib/g2msync to the g2msync user (not root): chown g2msync:g2msync /var/lib/g2msync in the target system"
fi
# shellcheck disable=SC2086 # $owner is two options or none
install -d -m 0700 $owner "$r/var/lib/g2msync"
install -d -m 0755 "$r$confdir"
install -d -m 0700 "$r$confdir/credentials"
if [ ! -f "$r$confdir/g2msync.yaml" ]; then
  # The service reads secrets from its credentials, not from *_file keys.
  sed -e 's|^\(  client_secret_file:\).*|\1 ""|' "$top/config/g2msync.example.yaml" > "$r$confdir/g2msync.yaml"
  chmod 0644 "$r$confdir/g2msync.yaml"
  echo "wrote $confdir/g2msync.yaml: edit it (tenant, app, GoTo account, roles)"
else
  echo "kept $confdir/g2msync.yaml as it is"
fi
# The units load each of these as a systemd credential; empty ones are ignored.
for c in entra-client-secret entra-certificate-password goto-client-secret goto-refresh-token \
         goto-personal-access-token goto-password notify-smtp-password status-token; do
  if [ ! -f "$r$confdir/credentials/$c" ]; then
    install -m 0600 /dev/null "$r$confdir/credentials/$c"
  fi
done

for u in $units; do
  install -m 0644 "$here/$u" "$r$unitdir/$u"
done

# Man pages and completions: the archive's, else made by the binary (when
# it runs here: not so for another architecture's root).
man="$r$prefix/share/man/man1"
install -d "$man" "$r$prefix/share/bash-completion/completions" "$r$prefix/share/zsh/site-functions" \
  "$r$prefix/share/fish/vendor_completions.d"
if [ -d "$top/man" ] && [ -d "$top/completions" ]; then
  install -m 0644 "$top"/man/*.1 "$man/"
  install -m 0644 "$top/completions/g2msync.bash" "$r$prefix/share/bash-completion/completions/g2msync"
  install -m 0644 "$top/completions/_g2msync" "$r$prefix/share/zsh/site-functions/_g2msync"
  install -m 0644 "$top/completions/g2msync.fish" "$r$prefix/share/fish/vendor_completions.d/g2msync.fish"
elif "$bin" man "$man" 2>/dev/null; then
  "$bin" completion bash >"$r$prefix/share/bash-completion/completions/g2msync"
  "$bin" completion zsh >"$r$prefix/share/zsh/site-functions/_g2msync"
  "$bin" completion fish >"$r$prefix/share/fish/vendor_completions.d/g2msync.fish"
else
  skip "the man pages and completions (no man/ beside this script, and $bin does not run here)"
fi

systemctl_or_skip daemon-reload

cat <<TXT

g2msync is installed; nothing is enabled or started. Next:
  1. Edit $confdir/g2msync.yaml and put the Entra and GoTo client secrets in
     $confdir/credentials/entra-client-secret and goto-client-secret.
  2. sudo g2msync-admin check                  # test both connections
  3. sudo g2msync-admin login goto             # first GoTo refresh token
  4. sudo g2msync-admin plan                   # see what the first sync will do
  5. sudo systemctl start g2msync-initial-sync && sudo systemctl enable g2msync
                                               # first, full sync; it starts the daemon when it ends
                                               # (also when it staged disables or deferred changes:
                                               # exit 3 or 4 need a person, not a stopped service);
                                               # enable starts it at boot from then on
  6. journalctl -u g2msync -f;  g2msync-admin status;  curl -s 127.0.0.1:9464/status
TXT
report_skipped
