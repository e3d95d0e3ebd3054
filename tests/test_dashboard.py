"""`wasmcli dashboard`: the HTML report's content, its escaping and size, `--serve`, and
(where Debian's chromium is installed) the page as a real browser draws it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, CliResult
from .insight_data import ago, failing, make_trace, store

Cli = Callable[..., CliResult]


class Page(HTMLParser):
    """The parts of the page the tests look at: sections, data-stat cells, links, SVGs."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.stats: dict[tuple[str, str], str] = {}  # (group, stat) -> data-value
        self.links: list[str] = []
        self.svg_marks = 0
        self.svgs = 0
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if "data-stat" in found:
            self.stats[(str(found.get("data-group")), str(found["data-stat"]))] = str(
                found.get("data-value")
            )
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "svg":
            self.svgs += 1
        if tag in ("rect", "line") and "mark" in (found.get("class") or ""):
            self.svg_marks += 1
        if tag == "script":
            self.scripts += 1


def sample_runs() -> list[Any]:
    runs = []
    for index in range(30):
        minutes = 60 - index
        if index % 7 == 3:
            runs.append(
                failing(
                    "alpha",
                    "trap",
                    started_at=ago(minutes=minutes),
                    error_message="Plugin trapped: integer divide by zero",
                )
            )
        elif index % 5 == 4:
            runs.append(failing("beta", "plugin_error", started_at=ago(minutes=minutes)))
        else:
            runs.append(
                make_trace(
                    "alpha" if index % 2 else "beta",
                    started_at=ago(minutes=minutes),
                    process_us=100 * (index + 1),
                    fuel=1000 * (index + 1),
                )
            )
    return runs


def write_dashboard(cli: Cli, path: Path, *args: str) -> str:
    result = cli("dashboard", "--output", str(path), *args)
    assert result.exit_code == 0, result
    assert f"Wrote {path}" in result.stderr
    return path.read_text(encoding="utf-8")


def stats_json(cli: Cli, *args: str) -> dict[str, Any]:
    data = cli("traces", "stats", "--by", "binary", "--json", *args).json()
    assert isinstance(data, dict)
    return data


def expected_stats(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """What the page's data-stat attributes must hold, from `traces stats --json`."""
    expected: dict[tuple[str, str], str] = {}

    def put(group: str, data: dict[str, Any], names: tuple[str, ...]) -> None:
        for name in names:
            value: Any = data
            for part in name.split("."):
                value = value[part]
            if name.startswith("duration_ms."):  # the page keeps microseconds
                value = round(value * 1000)
            if name == "success_rate" and group != "total":
                value = data["succeeded"] / data["runs"]
            expected[(group, name)] = "" if value is None else str(value)

    durations = ("duration_ms.p50", "duration_ms.p90", "duration_ms.p99", "duration_ms.max")
    put(
        "total",
        report["total"],
        ("runs", "failed", *durations, "fuel.p50", "fuel.p90", "fuel.max", "output_bytes.total"),
    )
    for group in report["groups"]:
        put(group["key"], group, ("runs", *durations, "fuel.p50", "fuel.max"))
    return expected


def test_the_page_has_every_section_and_the_numbers_of_traces_stats(
    any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    runs = store(wasmcli_home, sample_runs())
    text = write_dashboard(any_engine_cli, tmp_path / "report.html")
    page = Page(text)
    for section in (
        "summary",
        "runs-over-time",
        "per-binary",
        "failures",
        "slowest",
        "fuel-hungry",
        "recent-failures",
        "latest",
    ):
        assert section in page.ids
    expected = expected_stats(stats_json(any_engine_cli))
    shown = {key: value for key, value in page.stats.items() if key in expected}
    assert shown == expected
    assert page.svgs >= 6 and page.svg_marks > 30
    # Every listed run links to its own page, and that page has its timeline.
    pages = {link[len("#trace-") :] for link in page.links if link.startswith("#trace-")}
    assert pages == {i[len("trace-") :] for i in page.ids if i.startswith("trace-")}
    failures = [r for r in runs if not r.success]
    assert {r.trace_id for r in failures} <= pages  # all 9 failures are recent ones
    slowest = max(runs, key=lambda r: r.duration_us)
    assert slowest.trace_id in pages
    section = text.split(f'id="trace-{failures[0].trace_id}"', 1)[1].split("</section>", 1)[0]
    assert "timeline of run" in section and "Plugin failed: trap" not in section
    assert "Plugin trapped: integer divide by zero" in section
    assert "unreachable/panic, out-of-bounds access" in section  # the kind, decoded
    # Self-contained: no script, no stylesheet or image from elsewhere.
    assert page.scripts == 0
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)


def test_filters_select_the_runs_shown(
    any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    store(wasmcli_home, sample_runs())
    text = write_dashboard(any_engine_cli, tmp_path / "alpha.html", "--binary", "alpha", "--failed")
    page = Page(text)
    expected = expected_stats(stats_json(any_engine_cli, "--binary", "alpha", "--failed"))
    assert {k: v for k, v in page.stats.items() if k in expected} == expected
    assert page.stats[("total", "runs")] == "4"


def test_plugin_text_is_escaped(any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path) -> None:
    evil = '<img src=x onerror="alert(1)">'
    store(
        wasmcli_home,
        [
            failing("x<script>alert(1)</script>", error_message=f"boom {evil}\x1b[31m\u202e"),
            make_trace("ok", output=(f"line {evil}", "</pre><script>alert(2)</script>")),
        ],
    )
    text = write_dashboard(any_engine_cli, tmp_path / "report.html")
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "onerror=&quot;alert(1)&quot;" in text
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[31m" in text and "\\u202e" in text


def test_size_for_a_thousand_runs(any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path) -> None:
    runs = []
    for index in range(1000):
        if index % 9 == 0:
            runs.append(
                failing(f"plugin{index % 4}", "timeout", started_at=ago(seconds=index * 37))
            )
        else:
            runs.append(
                make_trace(
                    f"plugin{index % 4}",
                    started_at=ago(seconds=index * 37),
                    output=tuple(f"line {n}" for n in range(50)),
                    process_us=index * 13,
                )
            )
    store(wasmcli_home, runs)
    text = write_dashboard(any_engine_cli, tmp_path / "report.html")
    assert len(text.encode("utf-8")) <= 2 * 1024 * 1024
    assert Page(text).stats[("total", "runs")] == "1000"


def test_usage_errors(any_engine_cli: Cli, tmp_path: Path) -> None:
    neither = any_engine_cli("dashboard")
    assert neither.exit_code == 2 and "give --output FILE (or --serve)" in neither.stderr
    nowhere = any_engine_cli("dashboard", "-o", str(tmp_path / "no" / "such" / "r.html"))
    assert nowhere.exit_code == 9 and "does not exist" in nowhere.stderr
    port = any_engine_cli("dashboard", "--serve", "--port", "70000")
    assert port.exit_code == 2


def _cli_env(home: Path) -> dict[str, str]:
    return {**os.environ, "WASMCLI_HOME": str(home), "PYTHONPATH": str(REPO)}


def test_serve_reloads_as_new_runs_are_stored(wasmcli_home: Path) -> None:
    store(wasmcli_home, [make_trace("first", started_at=ago(minutes=1))])
    server = subprocess.Popen(
        [sys.executable, "-m", "wasmcli", "dashboard", "--serve", "--port", "0"],
        env=_cli_env(wasmcli_home),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()  # the readiness signal: the address it listens on
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        base = found.group(0)

        def get(path: str) -> str:
            with urllib.request.urlopen(base + path, timeout=30) as response:
                return str(response.read().decode("utf-8"))

        page = get("")
        stamp = get("stamp")
        assert "first" in page and stamp in page  # the page knows the stamp it was built at
        assert Page(page).scripts == 1  # served pages poll /stamp to reload
        store(wasmcli_home, [make_trace("second")])
        assert get("stamp") != stamp
        assert "second" in get("")
        with pytest.raises(urllib.error.HTTPError):
            get("elsewhere")
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0


# -- in a real browser ------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(
            bytes(line) if channels == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3)
        )
        previous = line
    return width, height, rows


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_in_a_real_browser(any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path) -> None:
    store(wasmcli_home, sample_runs())
    report = tmp_path / "report.html"
    write_dashboard(any_engine_cli, report)
    url = report.resolve().as_uri()
    shot = tmp_path / "report.png"
    drawn = chromium(
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--window-size=1000,1400",
        f"--screenshot={shot}",
        url,
    )
    assert shot.exists(), drawn.stderr[-2000:]
    console = [
        line for line in drawn.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert console == []
    # The charts are drawn: the screenshot has the outcome colors in quantity.
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1000, 1400)
    colors: dict[bytes, int] = {}
    for row in rows:
        for x in range(0, len(row), 3):
            pixel = row[x : x + 3]
            colors[pixel] = colors.get(pixel, 0) + 1
    ok_green = bytes.fromhex("2e9d5a")
    trap_red = bytes.fromhex("d64545")
    bar_blue = bytes.fromhex("3b73b9")
    assert colors.get(ok_green, 0) > 500 and colors.get(trap_red, 0) > 50
    assert colors.get(bar_blue, 0) > 200
    # The page as the browser read it carries the numbers `traces stats --json` gives.
    dom = chromium("--dump-dom", url)
    assert dom.returncode == 0
    page = Page(dom.stdout)
    expected = expected_stats(stats_json(any_engine_cli))
    assert {k: v for k, v in page.stats.items() if k in expected} == expected
    visible = re.sub(r"<[^>]+>", " ", dom.stdout)
    total = stats_json(any_engine_cli)["total"]
    assert f"{total['duration_ms']['p50']:,.3f} ms" in visible
    assert f"{total['runs']:,}" in visible
    assert f"{100 * total['success_rate']:.1f}%" in visible
