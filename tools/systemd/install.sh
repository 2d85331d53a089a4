#!/bin/sh
# Installs tierbox and its daemon's units and starts the socket, in one
# command (as root, from a built checkout): tools/systemd/install.sh
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
install -m 0755 "$here/build/tierbox" /usr/local/bin/tierbox
[ -x "$here/build/tierbox-net" ] && install -m 0755 "$here/build/tierbox-net" /usr/local/bin/tierbox-net
getent group tierbox >/dev/null || groupadd --system tierbox
install -m 0644 "$here/tools/systemd/tierbox.socket" "$here/tools/systemd/tierbox.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now tierbox.socket
echo "tierbox.socket listening at /run/tierbox/tierbox.sock; add users with: usermod -aG tierbox USER"
