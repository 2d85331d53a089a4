#!/bin/sh
# Installs tierbox and its daemon's units and starts the socket, in one
# command (as root, from a built checkout): tools/systemd/install.sh
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
install -m 0755 "$here/build/tierbox" /usr/local/bin/tierbox
[ -x "$here/build/tierbox-net" ] && install -m 0755 "$here/build/tierbox-net" /usr/local/bin/tierbox-net
getent group tierbox >/dev/null || groupadd --system tierbox
# The runner's configuration where every user can read it. A caller's ps,
# stop, freeze, approvals, approve... read tierbox.json with the caller's own
# rights (for state_dir and approvals_dir: where the runs' control sockets and
# the pending requests' sockets are), and the first tierbox.json found wins.
# Without one here the search reaches this checkout's profiles/ (the shipped
# directory compiled into the binary), and a user who may not enter the
# checkout (a home directory of 0700 or 0750) gets EACCES there: every such
# command would fail for the daemon's callers. An existing file is kept.
install -d -m 0755 /etc/tierbox
[ -e /etc/tierbox/tierbox.json ] || printf '%s\n' \
  '{"comment": "tierbox runner configuration (docs/profiles.md); every user reads it: keep it 0644", "state_dir": "/run/tierbox", "approvals_dir": "/run/tierbox-approvals"}' \
  >/etc/tierbox/tierbox.json
chmod 0644 /etc/tierbox/tierbox.json
install -m 0644 "$here/tools/systemd/tierbox.socket" "$here/tools/systemd/tierbox.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now tierbox.socket
echo "tierbox.socket listening at /run/tierbox/tierbox.sock; add users with: usermod -aG tierbox USER"
