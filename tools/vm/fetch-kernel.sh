#!/bin/sh
# Downloads one of Debian's kernels and unpacks it for the VM tests, without
# installing anything on the host: apt-get download + dpkg -x, with an apt
# configuration of its own (its own sources list, package lists and cache,
# all under DEST), so the host's apt sources and state are never touched.
#
# usage: tools/vm/fetch-kernel.sh SUITE DEST
#   SUITE: bookworm (Debian 12's 6.1) or bookworm-backports (6.12)
# Writes DEST/vmlinux (uncompressed), DEST/modules (lib/modules/VERSION of
# the package, depmod run on it), DEST/version; does nothing if DEST/version
# exists.
set -eu
suite=$1
dest=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -s "$dest/version" ] && exit 0

apt_dir=$dest/apt
rm -rf "$apt_dir" "$dest/package"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$dest/package"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
case $suite in
  bookworm)
    # bookworm-security carries the newest 6.1 build.
    printf 'deb [signed-by=%s] http://deb.debian.org/debian bookworm main\n' "$keyring" >"$apt_dir/sources.list"
    printf 'deb [signed-by=%s] http://deb.debian.org/debian-security bookworm-security main\n' "$keyring" >>"$apt_dir/sources.list"
    ;;
  bookworm-backports)
    printf 'deb [signed-by=%s] http://deb.debian.org/debian bookworm-backports main\n' "$keyring" >"$apt_dir/sources.list"
    ;;
  *) echo "fetch-kernel: unknown suite '$suite' (fix: bookworm or bookworm-backports)" >&2; exit 2 ;;
esac

apt_options="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/nonexistent
  -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir -o Dir::Cache::Archives=$apt_dir/archives
  -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root -q"
# shellcheck disable=SC2086
apt-get $apt_options update >"$apt_dir/update.log" 2>&1 || { cat "$apt_dir/update.log" >&2; exit 1; }
# The generic flavour: the cloud one has no 9p.
# shellcheck disable=SC2086
package=$(apt-cache $apt_options depends linux-image-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
[ -n "$package" ] || { echo "fetch-kernel: no linux-image-amd64 in $suite" >&2; exit 1; }
# shellcheck disable=SC2086
(cd "$apt_dir/archives" && apt-get $apt_options download "$package" >/dev/null)
dpkg -x "$apt_dir/archives/${package}"_*.deb "$dest/package"

version=$(ls "$dest/package/lib/modules")
"$here/extract-vmlinux.py" "$dest/package/boot/vmlinuz-$version" "$dest/vmlinux"
rm -f "$dest/package/boot/vmlinuz-$version" "$apt_dir/archives/${package}"_*.deb
# The package leaves modules.dep to its postinst; depmod -b writes it inside DEST only.
depmod -b "$dest/package" "$version"
ln -sfn "package/lib/modules/$version" "$dest/modules"
echo "$version" >"$dest/version"
echo "fetch-kernel: $package ($version) in $dest" >&2
