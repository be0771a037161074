"""A tiny werf project made at test time and published with the real ``werf bundle
publish`` (werf built by scripts/build-werf.sh; WERFOP_WERF_DIR names its folder).

The chart renders one ConfigMap from a plain value (``greeting``), a value werfop passes
through ``valuesFrom`` (``colour``) and a secret value (``password``, encrypted in
``.helm/secret-values.yaml`` with a key made for the project), and no image: werf needs
no container backend to publish or apply it. ``broken=True`` adds a template the API
server refuses, for a deploy that fails.
Must not: print or log the secret key.
Neighbours: ``support.registry`` (where it is published), tests/cluster/test_werf.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import attrs

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
  colour: {{ .Values.colour | default "none" | quote }}
  password: {{ .Values.password | default "" | quote }}
"""
BROKEN = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: NOT_A_VALID_NAME
data: {}
"""


def werf_binary() -> Path:
    folder = os.environ.get("WERFOP_WERF_DIR")
    if not folder or not (Path(folder) / "werf").is_file():
        raise RuntimeError("WERFOP_WERF_DIR names no built werf: run `make werf` (make test does)")
    return Path(folder) / "werf"


@attrs.frozen(kw_only=True)
class WerfProject:
    folder: Path
    secret_key: str = attrs.field(repr=False)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.folder.parent / "home"),
            "WERF_SECRET_KEY": self.secret_key,
            "WERF_TELEMETRY": "0",
            "WERF_LOG_COLOR_MODE": "off",
        }
        return subprocess.run(
            [str(werf_binary()), *args],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=check,
        )

    def publish(
        self, repository: str, tag: str, *, greeting: str = "hello", broken: bool = False
    ) -> None:
        """Commit the chart with ``greeting`` (and the broken template) and publish it."""
        templates = self.folder / ".helm" / "templates"
        (self.folder / ".helm" / "values.yaml").write_text(f"greeting: {greeting}\n")
        (templates / "broken.yaml").unlink(missing_ok=True)
        if broken:
            (templates / "broken.yaml").write_text(BROKEN)
        _git(self.folder, "add", "-A")
        _git(self.folder, "commit", "-q", "--allow-empty", "-m", f"{tag}")
        made = self.run(
            "bundle",
            "publish",
            "--repo",
            repository,
            "--tag",
            tag,
            "--insecure-registry",
            check=False,
        )
        assert 0 == made.returncode, made.stdout[-3000:] + made.stderr[-3000:]


def make_project(folder: Path, password: str) -> WerfProject:
    """A git repository with werf.yaml and the chart; ``password`` is stored encrypted."""
    (folder / ".helm" / "templates").mkdir(parents=True)
    (folder.parent / "home").mkdir(exist_ok=True)
    (folder / "werf.yaml").write_text("project: werfop-test\nconfigVersion: 1\n")
    (folder / ".helm" / "templates" / "settings.yaml").write_text(CONFIGMAP)
    (folder / ".helm" / "values.yaml").write_text("greeting: hello\n")
    bare = WerfProject(folder=folder, secret_key="")
    key = bare.run("helm", "secret", "generate-secret-key").stdout.strip()
    project = WerfProject(folder=folder, secret_key=key)
    plain = folder.parent / "secret-values.plain.yaml"
    plain.write_text(f"password: {password}\n")
    project.run("helm", "secret", "values", "encrypt", str(plain), "-o", ".helm/secret-values.yaml")
    plain.unlink()
    _git(folder, "init", "-q", ".")
    return project


def _git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=test@werfop.invalid", "-c", "user.name=werfop-test", *args],
        cwd=folder,
        check=True,
        capture_output=True,
    )
