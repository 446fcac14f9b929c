"""Tests of deploy/check/image.py on OCI archives made here (the real images are checked by
`just deploy-check`)."""

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import unittest
from pathlib import Path

import image


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def oci_archive(path: Path, layers: list[dict[str, bytes]]) -> None:
    """Writes an OCI image layout archive with one image whose layers hold `layers` (gzip tars)."""
    blobs = {}

    def blob(data: bytes, media_type: str) -> dict:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    layer_descs = [blob(gzip.compress(_tar(files)), "application/vnd.oci.image.layer.v1.tar+gzip") for files in layers]
    config = blob(json.dumps({"config": {}}).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = blob(
        json.dumps({"schemaVersion": 2, "config": config, "layers": layer_descs}).encode(),
        "application/vnd.oci.image.manifest.v1+json",
    )
    files = {f"blobs/sha256/{d.split(':')[1]}": data for d, data in blobs.items()}
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [manifest]}).encode()
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    path.write_bytes(_tar(files))


class FilterImage(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "image.tar"

    def tearDown(self):
        self.dir.cleanup()

    def test_plugin_wasm_in_the_last_layer_is_accepted(self):
        oci_archive(self.path, [{"etc/x": b"x"}, {"plugin.wasm": b"\0asm module"}])
        image.check_filter_image(self.path, b"\0asm module")

    def test_plugin_wasm_only_in_an_earlier_layer_is_refused(self):
        oci_archive(self.path, [{"plugin.wasm": b"\0asm module"}, {"etc/x": b"x"}])
        with self.assertRaisesRegex(image.ImageError, "not plugin.wasm"):
            image.check_filter_image(self.path, b"\0asm module")

    def test_another_module_is_refused(self):
        oci_archive(self.path, [{"plugin.wasm": b"\0asm other"}])
        with self.assertRaisesRegex(image.ImageError, "differs"):
            image.check_filter_image(self.path, b"\0asm module")

    def test_a_root_image_is_refused_as_serve_image(self):
        oci_archive(self.path, [{"usr/local/bin/warden": b"#!/bin/true"}])
        with self.assertRaisesRegex(image.ImageError, "not an unprivileged user"):
            image.check_serve_image(self.path)


if __name__ == "__main__":
    unittest.main()
