#!/usr/bin/env bash
# make release: cross-built archives for every release target, .deb packages for
# the Linux ones (nfpm, pinned below), and a SHA-256 checksum file, in bin/release.
#
# sqlite: go-sqlite3 (cgo) wherever a C cross compiler is installed (Debian:
# gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf, gcc-mingw-w64-x86-64); elsewhere
# (macOS from Linux, or a missing compiler) the pure-Go driver, modernc.org/sqlite.
# bin/release/BUILDINFO says which each binary carries.
#
# Env: VERSION (default: git describe), RELEASE_DIR (default bin/release),
#      RELEASE_TARGETS (default: all six), GO (default go).
# `release.sh deb-check BINARY` packages BINARY (linux/amd64) alone into a
# temporary directory and checks the package (check-deb.sh): make test runs that.
set -euo pipefail
cd "$(dirname "$0")/../../.."
GO=${GO:-go}
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
version=${version#v}
# A Debian version starts with a digit; an untagged describe (a bare hash) does not.
debversion=$version
[[ $debversion =~ ^[0-9]+\.[0-9]+ ]] || debversion="0.0.0~git${version//-/.}"
ldflags="-s -w -X github.com/vantage-probe/vantage/probe/runner.SoftwareVersion=$version"

# cc_for names the C cross compiler of a target, or nothing.
cc_for() {
	case $1 in
	linux/amd64) [ "$(go env GOHOSTARCH)" = amd64 ] && echo gcc ;;
	linux/arm64) echo aarch64-linux-gnu-gcc ;;
	linux/arm) echo arm-linux-gnueabihf-gcc ;;
	windows/amd64) echo x86_64-w64-mingw32-gcc ;;
	esac
}

# nfpm_arch is nfpm's name of a Linux target's architecture (arm7 is Debian armhf).
nfpm_arch() { case $1 in linux/amd64) echo amd64 ;; linux/arm64) echo arm64 ;; linux/arm) echo arm7 ;; esac; }

# package_deb BINARY TARGET CGO OUTDIR MANPAGE: one .deb.
package_deb() {
	local bin=$1 target=$2 cgo=$3 outdir=$4 man=$5 depends=""
	[ "$cgo" = 1 ] && depends=libc6
	VANTAGE_VERSION=$debversion VANTAGE_ARCH=$(nfpm_arch "$target") VANTAGE_BIN=$bin \
		VANTAGE_MAN=$man VANTAGE_DEPENDS=$depends \
		"$GO" run "$NFPM" package --config cmd/vantage/dist/nfpm.yaml --packager deb --target "$outdir/" >&2
}

# manpage BINARY OUT: the gzipped man page, from a binary this machine runs.
manpage() { "$1" manpage | gzip -9n >"$2"; }

if [ "${1:-}" = deb-check ]; then
	bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	manpage "$bin" "$tmp/vantage.1.gz"
	package_deb "$bin" linux/amd64 1 "$tmp" "$tmp/vantage.1.gz"
	bash cmd/vantage/dist/check-deb.sh "$tmp"/vantage_*_amd64.deb
	exit 0
fi

out=${RELEASE_DIR:-bin/release}
rm -rf "$out"
mkdir -p "$out/.stage"
out=$(cd "$out" && pwd)
: >"$out/BUILDINFO"
for target in ${RELEASE_TARGETS:-linux/amd64 linux/arm64 linux/arm windows/amd64 darwin/amd64 darwin/arm64}; do
	os=${target%/*} arch=${target#*/}
	name=$arch
	[ "$arch" = arm ] && name=armv7
	cc=$(cc_for "$target" || true)
	cgo=0
	if [ -n "$cc" ] && command -v "$cc" >/dev/null; then cgo=1; fi
	exe=vantage
	[ "$os" = windows ] && exe=vantage.exe
	dir="$out/.stage/vantage_${version}_${os}_${name}"
	mkdir -p "$dir"
	echo "release: $target (cgo=$cgo${cc:+ $cc})" >&2
	GOOS=$os GOARCH=$arch GOARM=7 CGO_ENABLED=$cgo CC=${cc:-cc} \
		"$GO" build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/vantage
	driver="mattn/go-sqlite3 (cgo)"
	[ $cgo = 1 ] || driver="modernc.org/sqlite (pure Go)"
	echo "$target: sqlite $driver" >>"$out/BUILDINFO"
	cp README.md LICENSE "$dir/"
	if [ "$target" = "$(go env GOHOSTOS)/$(go env GOHOSTARCH)" ]; then
		manpage "$dir/$exe" "$out/.stage/vantage.1.gz"
	fi
done
# The man page comes from the host's binary; without one, a host build makes it.
if [ ! -f "$out/.stage/vantage.1.gz" ]; then
	"$GO" build -ldflags "$ldflags" -o "$out/.stage/host-vantage" ./cmd/vantage
	manpage "$out/.stage/host-vantage" "$out/.stage/vantage.1.gz"
fi
for dir in "$out"/.stage/vantage_*; do
	base=$(basename "$dir")
	case $base in
	*_windows_*) (cd "$out/.stage" && zip -qr "../$base.zip" "$base") ;;
	*)
		gunzip -c "$out/.stage/vantage.1.gz" >"$dir/vantage.1"
		tar -C "$out/.stage" -czf "$out/$base.tar.gz" "$base"
		;;
	esac
	case $base in
	*_linux_*)
		target=linux/${base##*_}
		[ "$target" = linux/armv7 ] && target=linux/arm
		cgo=1
		grep -q "^$target: sqlite modernc" "$out/BUILDINFO" && cgo=0
		package_deb "$dir/vantage" "$target" $cgo "$out" "$out/.stage/vantage.1.gz"
		;;
	esac
done
rm -rf "$out/.stage"
(cd "$out" && sha256sum -- *.tar.gz *.zip *.deb >SHA256SUMS)
echo "release: $(ls "$out" | wc -l) files in $out" >&2
cat "$out/BUILDINFO" >&2
