"""Checks an OCI archive (`just image-filter`, `just image-serve`) the way its consumers read it.

    python deploy/check/image.py filter ARCHIVE WASM   # last layer holds plugin.wasm == WASM (Istio's rule)
    python deploy/check/image.py serve ARCHIVE         # runs `warden --version` from the image's root fs

Istio (and Envoy Gateway) take `plugin.wasm` from the image's last layer; anything else is refused there,
so it is refused here first.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


class ImageError(Exception):
    """The archive is not the image it should be; the message says why."""


def _blob(archive: tarfile.TarFile, digest: str) -> bytes:
    algorithm, hex_digest = digest.split(":", 1)
    member = archive.extractfile(f"blobs/{algorithm}/{hex_digest}")
    if member is None:
        raise ImageError(f"blob {digest} missing")
    return member.read()


def manifest_and_config(path: Path) -> tuple[tarfile.TarFile, dict, dict]:
    """The open archive, its one image manifest and that image's config (OCI image layout 1.0)."""
    archive = tarfile.open(path)
    index = json.loads(archive.extractfile("index.json").read())
    if len(index.get("manifests", [])) != 1:
        raise ImageError(f"expected one manifest in index.json, found {len(index.get('manifests', []))}")
    manifest = json.loads(_blob(archive, index["manifests"][0]["digest"]))
    config = json.loads(_blob(archive, manifest["config"]["digest"]))
    return archive, manifest, config


def layer_files(archive: tarfile.TarFile, layer: dict) -> dict[str, bytes]:
    """Regular files of one layer (gzip or plain tar), by path without the leading `./` or `/`."""
    data = _blob(archive, layer["digest"])
    if layer["mediaType"].endswith("+gzip") or layer["mediaType"].endswith(".gzip"):
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {
            m.name.removeprefix("./").removeprefix("/"): t.extractfile(m).read()
            for m in t.getmembers()
            if m.isfile()
        }


def check_filter_image(path: Path, wasm: bytes) -> None:
    """Raises ImageError unless the last layer of the image holds `plugin.wasm` with exactly `wasm`."""
    archive, manifest, _config = manifest_and_config(path)
    if not manifest.get("layers"):
        raise ImageError("the image has no layers")
    files = layer_files(archive, manifest["layers"][-1])
    if "plugin.wasm" not in files:
        raise ImageError(f"the last layer holds {sorted(files)}, not plugin.wasm")
    if files["plugin.wasm"] != wasm:
        raise ImageError("plugin.wasm in the image differs from the module it was built from")


def check_serve_image(path: Path) -> str:
    """Unpacks the image's layers and runs its entrypoint with `--version` inside them (chroot, as its
    user); returns what it printed. Raises ImageError when the user is root or the binary cannot run
    (a missing library, a wrong loader)."""
    archive, manifest, config = manifest_and_config(path)
    cfg = config.get("config", {})
    if cfg.get("User", "") in ("", "0", "root", "0:0"):
        raise ImageError(f"the image runs as {cfg.get('User')!r}, not an unprivileged user")
    entrypoint = cfg.get("Entrypoint") or []
    if not entrypoint:
        raise ImageError("the image has no entrypoint")
    with tempfile.TemporaryDirectory() as root:
        for layer in manifest["layers"]:
            for name, data in layer_files(archive, layer).items():
                target = Path(root) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(0o755)
        for directory in [Path(root), *(p for p in Path(root).rglob("*") if p.is_dir())]:
            directory.chmod(0o755)
        run = subprocess.run(
            ["chroot", f"--userspec={cfg['User']}", root, *entrypoint, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if run.returncode != 0:
            raise ImageError(f"{entrypoint} --version failed in the image: {run.stderr.strip()}")
        return run.stdout.strip()


def main(argv: list[str]) -> int:
    """Command line: see the module's documentation."""
    try:
        if argv[:1] == ["filter"] and len(argv) == 3:
            check_filter_image(Path(argv[1]), Path(argv[2]).read_bytes())
            print(f"ok      {argv[1]}: last layer holds plugin.wasm = {argv[2]}")
        elif argv[:1] == ["serve"] and len(argv) == 2:
            print(f"ok      {argv[1]}: runs as non-root, {check_serve_image(Path(argv[1]))}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (ImageError, KeyError, tarfile.TarError, json.JSONDecodeError) as e:
        print(f"REFUSED {argv[1]}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
