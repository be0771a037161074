"""Push and delete real OCI artifacts (werf bundles are Helm-chart-shaped) with httpx.

Role: build a tiny Helm chart ``.tgz`` (deterministic bytes for a given name, tag and
revision), upload it and a Helm config blob, and put an OCI image manifest under a tag;
delete manifests by digest (the distribution registry then drops the tags pointing at it).
Two shapes, both of which werf's bundle pull accepts (werf v2.75.0
pkg/deploy/bundles/registry/cache.go:116-133: an OCI image manifest with exactly one
non-empty layer of either chart media type): ``push_chart`` as ``helm push`` writes it
(layer ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``, an annotation), and
``push_werf_bundle`` as ``werf bundle publish`` writes it (cache.go:275-330: a Helm config
of the chart's metadata, one ``application/tar+gzip`` layer, a manifest without
``mediaType`` or annotations).
Must not: depend on werfop code (it is the independent side of every check).
Neighbours: ``process`` (gives it the base URL, TLS trust and push credentials).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import tarfile
from collections.abc import Callable

import httpx

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# What werf bundle publish writes (pkg/deploy/bundles/registry/constants.go:80).
WERF_CHART_LAYER = "application/tar+gzip"
CHART_CONFIG = "application/vnd.cncf.helm.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def chart_tgz(name: str, version: str, revision: int = 0) -> bytes:
    """A minimal Helm chart archive; equal inputs give equal bytes."""
    files = {
        f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n",
        f"{name}/values.yaml": f"revision: {revision}\n",
        f"{name}/templates/configmap.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
            "data:\n  revision: {{ .Values.revision | quote }}\n"
        ),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class OciPusher:
    """Writes artifacts to one registry; ``auth(repository)`` gives push headers."""

    def __init__(
        self,
        base_url: str,
        *,
        verify: ssl.SSLContext | bool = True,
        auth: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self.base_url = base_url
        self._auth = auth or (lambda _repository: {})
        self._client = httpx.Client(verify=verify, timeout=10, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        headers = self._auth(repository)
        started = self._client.post(
            f"{self.base_url}/v2/{repository}/blobs/uploads/", headers=headers
        )
        assert 202 == started.status_code, started.text
        location = httpx.URL(self.base_url).join(started.headers["Location"])
        finished = self._client.put(
            location.copy_add_param("digest", digest),
            content=data,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        assert 201 == finished.status_code, finished.text
        return digest

    def push_chart(self, repository: str, tag: str, *, revision: int = 0) -> str:
        """Push a chart artifact under ``tag``; returns the manifest digest."""
        chart_name = repository.rsplit("/", 1)[-1]
        layer = chart_tgz(chart_name, tag, revision)
        config = json.dumps(
            {"name": chart_name, "version": tag, "apiVersion": "v2"}, sort_keys=True
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": CHART_CONFIG,
                "digest": self.push_blob(repository, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": CHART_LAYER,
                    "digest": self.push_blob(repository, layer),
                    "size": len(layer),
                }
            ],
            "annotations": {"io.werf.test.revision": str(revision)},
        }
        return self.push_manifest(repository, tag, json.dumps(manifest, sort_keys=True).encode())

    def push_werf_bundle(self, repository: str, tag: str, *, revision: int = 0) -> str:
        """Push a bundle shaped exactly as ``werf bundle publish`` pushes it; returns the
        manifest digest."""
        chart_name = repository.rsplit("/", 1)[-1]
        layer = chart_tgz(chart_name, tag, revision)
        # json.Marshal(chart.Metadata): Go's field order, empty fields omitted.
        config = json.dumps(
            {"name": chart_name, "version": tag, "apiVersion": "v2"}, separators=(",", ":")
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "config": {
                "mediaType": CHART_CONFIG,
                "digest": self.push_blob(repository, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": WERF_CHART_LAYER,
                    "digest": self.push_blob(repository, layer),
                    "size": len(layer),
                }
            ],
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        return self.push_manifest(repository, tag, body)

    def push_manifest(self, repository: str, tag: str, manifest: bytes) -> str:
        response = self._client.put(
            f"{self.base_url}/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={**self._auth(repository), "Content-Type": OCI_MANIFEST},
        )
        assert 201 == response.status_code, response.text
        digest = response.headers["Docker-Content-Digest"]
        assert digest_of(manifest) == digest
        return digest

    def get_manifest(self, repository: str, reference: str) -> dict:
        """The stored manifest, as a client asking for an OCI manifest gets it."""
        response = self._client.get(
            f"{self.base_url}/v2/{repository}/manifests/{reference}",
            headers={**self._auth(repository), "Accept": OCI_MANIFEST},
        )
        assert 200 == response.status_code, response.text
        return json.loads(response.content)

    def delete_manifest(self, repository: str, digest: str) -> None:
        response = self._client.delete(
            f"{self.base_url}/v2/{repository}/manifests/{digest}",
            headers=self._auth(repository),
        )
        assert 202 == response.status_code, response.text
