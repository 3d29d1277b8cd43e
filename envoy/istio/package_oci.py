#!/usr/bin/env python3
"""Package wa_egress_guard.wasm as an OCI image that Istio's WasmPlugin can pull. No Docker.

Format: the "compat" variant of the Wasm image spec, which Istio's puller
(pkg/wasm/imagefetcher.go) tries first for OCI manifests:

  manifest  application/vnd.oci.image.manifest.v1+json,
            annotation module.wasm.image/variant=compat
  config    application/vnd.oci.image.config.v1+json
            {"architecture":"wasm","os":"wasip1","rootfs":{"type":"layers","diff_ids":[<tar digest>]}}
  layer     exactly one, application/vnd.oci.image.layer.v1.tar+gzip: a tar holding one
            file, plugin.wasm (Istio looks it up by that base name)

Why not the single-layer `application/vnd.module.wasm.content.layer.v1+wasm` image some tools
push: Istio's parser accepts the custom wasm media type only in the two-layer *oci* variant
(config layer + wasm layer); a single-layer +wasm image fails both checks and is not pulled.

With `--variant oci`, the *oci* variant of the same spec is written instead: one layer of media
type `application/vnd.module.wasm.content.layer.v1+wasm` that is the module itself (its digest is
the module's sha256) and a `application/vnd.module.wasm.config.v1+json` config. Runtimes that
implement the Wasm OCI artifact spec pull it; for Istio keep the default compat variant.

Outputs, both byte-for-byte reproducible (fixed mtimes, uid/gid 0, sorted entries, gzip
header mtime fixed, canonical JSON):
  * an OCI image layout directory: oci-layout, index.json (the manifest tagged with
    org.opencontainers.image.ref.name), blobs/sha256/<digest>;
  * with --tar, that layout as a tar archive (what `oras cp --from-oci-layout x.tar:TAG`
    and `skopeo copy oci-archive:x.tar:TAG` read).

CLI:
    python envoy/istio/package_oci.py [--wasm W] --out DIR [--tar FILE] [--tag TAG] [--mtime SECONDS]
(--tag defaults to the crate version, --mtime to $SOURCE_DATE_EPOCH or 0). Prints the
manifest digest: pin it in the WasmPlugin (`url: oci://REGISTRY/wa-egress-guard@sha256:...`
or `sha256:`), which Istio compares with the pulled image's manifest digest.

Python standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ISTIO_DIR = Path(__file__).resolve().parent
REPO_ROOT = ISTIO_DIR.parent.parent
DEFAULT_WASM = REPO_ROOT / "target" / "wasm32-wasip1" / "release" / "wa_egress_guard.wasm"

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_LAYER_TYPE = "application/vnd.module.wasm.content.layer.v1+wasm"
WASM_CONFIG_TYPE = "application/vnd.module.wasm.config.v1+json"
PLUGIN_FILE = "plugin.wasm"
VARIANT_ANNOTATION = "module.wasm.image/variant"
REF_NAME = "org.opencontainers.image.ref.name"
TITLE = "org.opencontainers.image.title"


@dataclass
class Image:
    manifest_digest: str
    layer_digest: str
    config_digest: str
    wasm_sha256: str
    blobs: dict[str, bytes]  # "sha256:<hex>" -> bytes
    index: bytes
    layout: bytes


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": media_type, "digest": digest(data), "size": len(data)}
    if annotations:
        out["annotations"] = annotations
    return out


def tar_entry(name: str, data: bytes | None, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = len(data)
        info.mode = 0o644
    return info


def deterministic_tar(entries: list[tuple[str, bytes | None]], mtime: int) -> bytes:
    """A ustar archive of `entries` (directories have data None), in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            tar.addfile(tar_entry(name, data, mtime), None if data is None else io.BytesIO(data))
    return buf.getvalue()


def crate_version() -> str:
    with open(REPO_ROOT / "Cargo.toml", "rb") as f:
        return str(tomllib.load(f)["workspace"]["package"]["version"])


def build_image(wasm: bytes, tag: str, mtime: int = 0, variant: str = "compat") -> Image:
    if variant == "oci":
        return build_oci_variant(wasm, tag)
    if variant != "compat":
        raise ValueError(f"unknown variant `{variant}` (compat or oci)")
    layer_tar = deterministic_tar([(PLUGIN_FILE, wasm)], mtime)
    layer = gzip.compress(layer_tar, compresslevel=9, mtime=mtime)
    config = canonical_json({
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer_tar)]},
    })
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(CONFIG_TYPE, config),
        "layers": [descriptor(LAYER_TYPE, layer, {TITLE: PLUGIN_FILE})],
        "annotations": {VARIANT_ANNOTATION: "compat", TITLE: "wa-egress-guard", "org.opencontainers.image.version": tag},
    })
    return assemble(wasm, layer, config, manifest, tag)


def assemble(wasm: bytes, layer: bytes, config: bytes, manifest: bytes, tag: str) -> Image:
    """The image around a manifest: its index (tagged), blobs and layout marker."""
    index = canonical_json({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [descriptor(MANIFEST_TYPE, manifest, {REF_NAME: tag})],
    })
    return Image(
        manifest_digest=digest(manifest),
        layer_digest=digest(layer),
        config_digest=digest(config),
        wasm_sha256=hashlib.sha256(wasm).hexdigest(),
        blobs={digest(b): b for b in (layer, config, manifest)},
        index=index,
        layout=canonical_json({"imageLayoutVersion": "1.0.0"}),
    )


def build_oci_variant(wasm: bytes, tag: str) -> Image:
    """The *oci* variant: the layer is the module itself, so its digest is the module's sha256."""
    config = canonical_json({"type": "envoy_proxy", "abiVersions": ["v0.2.1"]})
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(WASM_CONFIG_TYPE, config),
        "layers": [descriptor(WASM_LAYER_TYPE, wasm, {TITLE: PLUGIN_FILE})],
        "annotations": {TITLE: "wa-egress-guard", "org.opencontainers.image.version": tag},
    })
    return assemble(wasm, wasm, config, manifest, tag)


def layout_entries(image: Image) -> list[tuple[str, bytes | None]]:
    entries: list[tuple[str, bytes | None]] = [("blobs", None), ("blobs/sha256", None)]
    entries += [(f"blobs/sha256/{d.split(':', 1)[1]}", image.blobs[d]) for d in sorted(image.blobs)]
    entries += [("index.json", image.index), ("oci-layout", image.layout)]
    return sorted(entries, key=lambda e: e[0])


def write_layout(image: Image, out: Path) -> None:
    """Write the layout to `out`, replacing an earlier layout there (never an unrelated directory)."""
    if out.exists() and any(out.iterdir()) and not (out / "oci-layout").is_file():
        raise FileExistsError(f"{out} exists and is not an OCI layout; refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o755)
        for name, data in layout_entries(image):
            path = staging / name
            if data is None:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.write_bytes(data)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def layout_tar(image: Image, mtime: int = 0) -> bytes:
    return deterministic_tar(layout_entries(image), mtime)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="package the guard's .wasm as an OCI image (Istio compat variant)")
    parser.add_argument("--wasm", type=Path, default=Path(os.environ.get("WASM") or DEFAULT_WASM))
    parser.add_argument("--out", type=Path, required=True, help="OCI image layout directory to write")
    parser.add_argument("--tar", type=Path, default=None, help="also write the layout as a tar archive")
    parser.add_argument("--tag", default=None, help="tag (index.json ref.name); default: the crate version")
    parser.add_argument("--mtime", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", "0")))
    parser.add_argument("--variant", choices=["compat", "oci"], default="compat",
                        help="compat (what Istio pulls, default) or oci (the layer is the module itself)")
    args = parser.parse_args(argv)
    try:
        image = build_image(args.wasm.read_bytes(), args.tag or crate_version(), args.mtime, args.variant)
        write_layout(image, args.out)
        if args.tar is not None:
            args.tar.write_bytes(layout_tar(image, args.mtime))
    except OSError as err:
        print(f"package_oci: {err}", file=sys.stderr)
        return 2
    print(f"manifest {image.manifest_digest}")
    print(f"layer    {image.layer_digest} ({PLUGIN_FILE} sha256 {image.wasm_sha256})")
    print(f"layout   {args.out}" + (f"\ntar      {args.tar}" if args.tar else ""))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
