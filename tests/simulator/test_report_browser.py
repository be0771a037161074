"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``, which
``scripts/ensure-system-deps.sh`` installs) opens the report of the examples with every
host name unresolvable, draws a lane per bundle with no console message and no
uncaught error, and takes a screenshot that is a real picture.

Without chromium this fails, saying how to install it: CI installs it, so a missing
browser is a broken machine, not a reason to skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BUNDLES = ("default/edge", "default/shop", "platform/billing")

pytestmark = pytest.mark.browser


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium is not installed: run scripts/ensure-system-deps.sh (make system-deps) "
            "or apt-get install chromium",
            pytrace=False,
        )
    return found


def _browse(page: Path, *flags: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # root in CI's containers
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={cwd / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: anything fetched would fail
            "--enable-logging=stderr",
            "--v=0",
            *flags,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    page = folder / "report.html"
    done = subprocess.run(
        [
            sys.executable, "-m", "werfop.main", "simulate", str(EXAMPLES),
            "--scenario", str(EXAMPLES / "scenario.yaml"), "--report", str(page),
        ],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert 0 == done.returncode, done.stderr
    return page


def test_every_bundle_gets_a_drawn_lane_and_the_console_stays_silent(report):
    done = _browse(report, "--dump-dom", cwd=report.parent)

    assert 0 == done.returncode, done.stderr[-2000:]
    dom = done.stdout
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert [] == console
    assert 'data-errors="' not in dom
    assert re.search(r'<body[^>]* data-rendered="3"', dom), dom[:500]
    for bundle in BUNDLES:
        lane = re.search(
            rf'<div class="lane" data-bundle="{bundle}".*?<svg class="plot"(.*?)</svg>', dom, re.S
        )
        assert lane is not None, bundle
        assert lane.group(1).count('class="span"') >= 1, bundle  # phases
        assert lane.group(1).count('class="job ') >= 2, bundle  # each bundle deployed twice+
    # the shop's failed Job, and the outage of its repository
    shop = dom[dom.index('data-bundle="default/shop"') :]
    assert 'class="job failed"' in shop[: shop.index("</svg>")]
    assert 'class="outage"' in shop[: shop.index("</svg>")]


def test_many_bundles_start_collapsed_and_all_are_drawn(tmp_path):
    from werfop.report_html import render_html

    count = 60
    bundles = {
        f"team-{i % 4}/app-{i:03d}": {"repository": "r.io/a/app", "status": {"phase": "Synced"}}
        for i in range(count)
    }
    events = [
        event
        for key in bundles
        for event in (
            {"time": "2026-01-01T00:00:00Z", "bundle": key, "type": "JobCreated",
             "job": f"{key.split('/')[1]}-1", "tag": "1.0.0", "cause": "NewVersion"},
            {"time": "2026-01-01T00:01:00Z", "bundle": key, "type": "JobSucceeded",
             "job": f"{key.split('/')[1]}-1", "tag": "1.0.0"},
        )
    ]  # fmt: skip
    document = {
        "events": events,
        "bundles": bundles,
        "registry": {"r.io/a/app": {"requests": 9}},
        "run": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
    }
    page = tmp_path / "many.html"
    page.write_text(render_html(document), encoding="utf-8")

    done = _browse(page, "--dump-dom", cwd=tmp_path)

    assert 0 == done.returncode, done.stderr[-2000:]
    assert [] == [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert f'data-rendered="{count}"' in done.stdout
    assert count == done.stdout.count('<div class="lane compact"')
    assert count == len(re.findall(r'<svg class="plot" width="\d+" height="16"', done.stdout))


def test_the_screenshot_is_a_picture_of_the_lanes(report):
    shot = report.parent / "shot.png"

    done = _browse(
        report, "--hide-scrollbars", "--window-size=1200,420", f"--screenshot={shot}",
        cwd=report.parent,
    )  # fmt: skip

    assert 0 == done.returncode, done.stderr[-2000:]
    with Image.open(shot) as image:
        assert (1200, 420) == image.size
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        assert colours is not None  # under 65,536 colours: a drawing, not noise
        # not blank: many colours, and the phase colours of the lanes are there
        assert len(colours) > 50
        present = {colour for _, colour in colours}
        synced, suspended = (106, 168, 79), (230, 169, 53)  # page.js PHASE_COLOURS
        assert synced in present and suspended in present
        # and most of the picture is not one uniform colour
        assert max(count for count, _ in colours) < 0.9 * 1200 * 420
