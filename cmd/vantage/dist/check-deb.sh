#!/usr/bin/env bash
# check-deb.sh DEB: installs DEB with dpkg into a temporary root (no container),
# checks that every file is where it belongs, runs the installed `vantage
# --version` (when DEB is for this machine) and has systemd-analyze verify the
# units it installs (when systemd-analyze exists).
set -euo pipefail
deb=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
# --force-depends: the temporary root has no libc6 package recorded (the host's
# libc is what the binary runs with); the package has no maintainer scripts.
# --force-architecture: an arm64 or armhf package is installed for its files.
dpkg --root="$root" --force-depends --force-architecture --force-not-root --log=/dev/null -i "$deb" >/dev/null 2>&1 ||
	{ echo "check-deb: dpkg -i $deb failed" >&2; dpkg --root="$root" --force-depends --force-not-root --log=/dev/null -i "$deb"; exit 1; }
status=$(dpkg --root="$root" -s vantage | sed -n 's/^Status: //p')
[ "$status" = "install ok installed" ] || { echo "check-deb: status '$status'" >&2; exit 1; }
units=(vantage.service vantage.timer vantage-helper.service vantage-collector.service)
for f in usr/bin/vantage usr/share/man/man1/vantage.1.gz usr/share/doc/vantage/copyright "${units[@]/#/usr/lib/systemd/system/}"; do
	[ -e "$root/$f" ] || { echo "check-deb: /$f missing" >&2; exit 1; }
done
# Installed, not enabled: no symlink in any .wants directory.
if find "$root" -path '*.wants/*' | grep -q .; then echo "check-deb: a unit is enabled" >&2; exit 1; fi
arch=$(dpkg-deb -f "$deb" Architecture)
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
	version=$("$root/usr/bin/vantage" --version | head -1)
	[[ $version == "vantage version "* ]] || { echo "check-deb: --version printed '$version'" >&2; exit 1; }
	echo "check-deb: $version" >&2
	if command -v systemd-analyze >/dev/null; then
		# The units as shipped, with /usr/bin/vantage pointing into the root.
		mkdir "$root/verify"
		for u in "${units[@]}"; do
			sed "s#/usr/bin/vantage#$root/usr/bin/vantage#g" "$root/usr/lib/systemd/system/$u" >"$root/verify/$u"
		done
		out=$(systemd-analyze verify --man=no "${units[@]/#/$root/verify/}" 2>&1) || { echo "$out" >&2; exit 1; }
		[ -z "$out" ] || { echo "check-deb: systemd-analyze verify: $out" >&2; exit 1; }
		echo "check-deb: systemd-analyze verify accepts ${units[*]}" >&2
	fi
fi
echo "check-deb: $(basename "$deb") ok" >&2
