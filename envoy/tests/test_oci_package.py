"""envoy/istio/package_oci.py packages the real module as the OCI image Istio pulls (the
"compat" variant: one tar+gzip layer holding plugin.wasm), as an OCI image layout and as a
tar of it, reproducibly. Checked the way a registry client and Istio's puller read it:
every blob's name is the sha256 of its bytes, every descriptor's size matches, the single
layer unpacks to exactly plugin.wasm, byte-identical to the built module."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from e2e_support import ENVOY_DIR

PACKAGER = ENVOY_DIR / "istio" / "package_oci.py"
TAG = "9.9.9-test"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def packaged(tmp_path_factory, guard_wasm):
    out = tmp_path_factory.mktemp("oci")
    for name in ("a", "b"):  # twice, to check the output is reproducible
        proc = subprocess.run(
            [sys.executable, str(PACKAGER), "--wasm", guard_wasm, "--out", str(out / f"layout-{name}"),
             "--tar", str(out / f"image-{name}.tar"), "--tag", TAG],
            capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def blob(layout: Path, descriptor_digest: str) -> bytes:
    algorithm, _, hex_digest = descriptor_digest.partition(":")
    assert algorithm == "sha256"
    return (layout / "blobs" / "sha256" / hex_digest).read_bytes()


def test_layout_is_a_valid_oci_image_layout(packaged):
    layout = packaged[0] / "layout-a"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    [entry] = index["manifests"]
    assert entry["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == TAG
    manifest_bytes = blob(layout, entry["digest"])
    assert len(manifest_bytes) == entry["size"]
    assert f"manifest {entry['digest']}" in packaged[1]


def test_every_blob_is_named_by_its_sha256_and_none_is_stray(packaged):
    layout = packaged[0] / "layout-a"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(layout, index["manifests"][0]["digest"]))
    referenced = {index["manifests"][0]["digest"], manifest["config"]["digest"],
                  *(layer["digest"] for layer in manifest["layers"])}
    on_disk = set()
    for path in (layout / "blobs" / "sha256").iterdir():
        data = path.read_bytes()
        assert sha256(data) == f"sha256:{path.name}", path
        on_disk.add(f"sha256:{path.name}")
    assert on_disk == referenced
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert len(blob(layout, descriptor["digest"])) == descriptor["size"], descriptor


def test_manifest_config_and_layer_are_the_compat_variant_with_the_built_module(packaged, guard_wasm):
    layout = packaged[0] / "layout-a"
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(layout, index["manifests"][0]["digest"]))
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = manifest["layers"]  # Istio's compat parser: exactly one layer of this type
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"

    layer_bytes = blob(layout, layer["digest"])
    layer_tar = gzip.decompress(layer_bytes)
    config = json.loads(blob(layout, manifest["config"]["digest"]))
    assert (config["architecture"], config["os"]) == ("wasm", "wasip1")
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256(layer_tar)]}

    with tarfile.open(fileobj=io.BytesIO(layer_tar)) as tar:
        members = tar.getmembers()
        assert [(m.name, m.isfile()) for m in members] == [("plugin.wasm", True)]
        module = tar.extractfile(members[0]).read()
    built = Path(guard_wasm).read_bytes()
    assert sha256(module) == sha256(built)
    assert module[:4] == b"\0asm"


def test_tarball_holds_the_layout_and_both_builds_are_identical(packaged):
    out = packaged[0]
    tar_a = (out / "image-a.tar").read_bytes()
    assert tar_a == (out / "image-b.tar").read_bytes(), "the tarball is not reproducible"
    layout = out / "layout-a"
    files = sorted(str(p.relative_to(layout)) for p in layout.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(out / "layout-b")) for p in (out / "layout-b").rglob("*") if p.is_file())
    with tarfile.open(fileobj=io.BytesIO(tar_a)) as tar:
        names = tar.getnames()
        assert names == sorted(names)
        assert sorted(m.name for m in tar.getmembers() if m.isfile()) == files
        for member in tar.getmembers():
            assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
            if member.isfile():
                assert tar.extractfile(member).read() == (layout / member.name).read_bytes()


def test_oci_variant_layer_is_the_module_itself(tmp_path, guard_wasm):
    out = tmp_path / "layout-oci"
    proc = subprocess.run(
        [sys.executable, str(PACKAGER), "--wasm", guard_wasm, "--out", str(out), "--tag", TAG, "--variant", "oci"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    wasm = Path(guard_wasm).read_bytes()
    index = json.loads((out / "index.json").read_bytes())
    [entry] = index["manifests"]
    blob = lambda d: (out / "blobs" / "sha256" / d.split(":", 1)[1]).read_bytes()
    manifest_bytes = blob(entry["digest"])
    assert sha256(manifest_bytes) == entry["digest"] and len(manifest_bytes) == entry["size"]
    manifest = json.loads(manifest_bytes)
    assert manifest["config"]["mediaType"] == "application/vnd.module.wasm.config.v1+json"
    config = blob(manifest["config"]["digest"])
    assert sha256(config) == manifest["config"]["digest"] and json.loads(config)["type"] == "envoy_proxy"
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.module.wasm.content.layer.v1+wasm"
    assert layer["digest"] == sha256(wasm), "the layer's digest is the sha256 of the .wasm"
    assert layer["size"] == len(wasm) and blob(layer["digest"]) == wasm
