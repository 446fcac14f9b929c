#!/usr/bin/env bash
# Builds one of Warden's images with buildah (daemonless, no base image) into an OCI archive:
#   deploy/image.sh filter WASM OUT_DIR VERSION   ->  OUT_DIR/warden-filter-VERSION.oci.tar
#   deploy/image.sh serve  BIN  OUT_DIR VERSION   ->  OUT_DIR/warden-serve-VERSION.oci.tar
# next to each: .sha256 (of the archive, sha256sum format) and .digest (the image manifest digest, what
# `oci://…@sha256:` and `image: …@sha256:` pin). Layers carry timestamp 0, so the same input gives the
# same image. Buildah's storage is a temporary directory, removed on exit.
set -euo pipefail
kind=$1 input=$2 out_dir=$3 version=$4
here=$(cd "$(dirname "$0")" && pwd)
test -f "$input" || { echo "error: $input does not exist (build it first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ctx="$work/context"
mkdir -p "$ctx" "$out_dir"
case "$kind" in
  filter)
    cp "$input" "$ctx/plugin.wasm"
    ;;
  serve)
    root="$ctx/rootfs"
    mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/etc/warden" "$ctx/data"
    chmod 1777 "$root/tmp"
    # Debug builds carry ~100 MB of symbols; the image gets the stripped binary.
    strip --strip-debug -o "$root/usr/local/bin/warden" "$input"
    # Its shared libraries and the dynamic loader, at the paths the binary names.
    for lib in $(ldd "$input" | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nwarden:x:65532:65532:warden:/var/lib/warden:/sbin/nologin\n' > "$root/etc/passwd"
    printf 'root:x:0:\nwarden:x:65532:\n' > "$root/etc/group"
    ;;
  *) echo "usage: $0 filter|serve INPUT OUT_DIR VERSION" >&2; exit 2 ;;
esac
name="warden-$kind"
archive="$out_dir/$name-$version.oci.tar"
b=(buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run")
"${b[@]}" bud --quiet --isolation chroot --timestamp 0 -f "$here/$kind/Containerfile" -t "localhost/$name:$version" "$ctx" >/dev/null
rm -f "$archive"
"${b[@]}" push --quiet --digestfile "$archive.digest" "localhost/$name:$version" "oci-archive:$archive:$version"
(cd "$out_dir" && sha256sum "$(basename "$archive")" > "$(basename "$archive").sha256")
echo "$archive ($(du -h "$archive" | cut -f1)), image digest $(cat "$archive.digest")"
