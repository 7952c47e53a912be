"""Targets, the printed table, the JSON file and the chart (SVG; PNG via headless chromium)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

Target = dict[str, Any]


def _target(scenario: str, metric: str, measured: float, target: float, *, most: bool) -> Target:
    met = measured <= target if most else measured >= target
    return {
        "scenario": scenario,
        "metric": metric,
        "measured": round(measured, 4),
        "target": round(target, 4),
        "kind": "at most" if most else "at least",
        "met": met,
    }


def targets(doc: dict[str, Any]) -> list[Target]:
    s = doc["scenarios"]
    out: list[Target] = []
    base = s.get("baseline", {})
    for run in s.get("first_mirror", []):
        label = f"first mirror {run['deals']}"
        out.append(_target(label, "requests / minimum", _ratio(run), 1.05, most=True))
        bound = max(run["rate_bound"], run["sequential_bound"])
        out.append(_target(label, "wall / lower bound", run["wall"] / bound, 1.25, most=True))
    if "steady" in s:
        out.append(_target("steady", "requests / minimum", _ratio(s["steady"]), 1.10, most=True))
        out.append(_target("steady", "changes lost", s["steady"]["lost"], 0, most=True))
    if "idle" in s:
        out.append(_target("idle", "requests per poll per CRM", s["idle"]["worst"], 1, most=True))
    if "storm" in s:
        storm = s["storm"]
        out.append(_target("storm", "fetches", storm["fetches"], storm["fetch_target"], most=True))
        out.append(_target("storm", "changes lost", storm["lost"], 0, most=True))
        out.extend(_daemon_storm(storm.get("daemon", [])))
    if "latency" in s:
        p99 = s["latency"]["webhook_edit_to_mirrored"]["p99"]
        out.append(_target("latency", "engine webhook edit-to-mirrored p99 (s)", p99, 2, most=True))
        out.extend(_daemon_latency(s["latency"].get("daemon", [])))
    out.extend(_memory(s.get("scale", [])))
    for run in s.get("scale", []):
        label = f"scale {run['deals']}"
        out.append(_target(label, "requests / minimum", _ratio(run), 1.02, most=True))
        share = run.get("record_share", 0.0)
        out.append(_target(label, "share of the pass spent recording", share, 0.15, most=True))
    mirrors = s.get("first_mirror", [])
    if base and mirrors:
        ours = mirrors[0]["requests"]
        naive = base["first_mirror"]["requests"]
        out.append(
            _target("first mirror", "baseline / bridge requests", naive / ours, 20, most=False)
        )
    if "notes" in s:
        notes = s["notes"]
        ratio = notes["requests"] / notes["minimum"]
        out.append(
            _target("notes", "requests / minimum (100 changed deals)", ratio, 1.10, most=True)
        )
        out.append(_target("notes", "notes not mirrored", notes["lost"], 0, most=True))
    if base and "steady" in s:
        naive, ours = base["steady"]["requests"], s["steady"]["requests"]
        out.append(_target("steady", "baseline / bridge requests", naive / ours, 20, most=False))
    return out


def _daemon_storm(runs: list[dict[str, Any]]) -> list[Target]:
    """Issue 20 bounds the default debounce's fetches; a fixed debounce is a comparison."""
    out: list[Target] = []
    for run in runs:
        label = f"storm via daemon, {debounce_label(run)}"
        if not run["debounce"]:
            most = 1.5 * math.ceil(run["distinct"] / 50)  # ≤ 1.5 × the minimum
            out.append(_target(label, "fetches", run["fetches"], most, most=True))
        out.append(_target(label, "changes lost", run["lost"], 0, most=True))
    return out


def _daemon_latency(runs: list[dict[str, Any]]) -> list[Target]:
    """The default debounce's p99 against 1 s (a fixed one is in the scenario table)."""
    label = "daemon webhook p99 (s), " + debounce_label({"debounce": 0})
    return [
        _target("latency", label, run["edit_to_mirrored"]["p99"], 1.0, most=True)
        for run in runs
        if not run["debounce"]
    ]


def debounce_label(run: dict[str, Any]) -> str:
    """A daemon run's debounce: 0 is the daemon's default, which adapts to the arrival rate."""
    return (
        "default debounce (adaptive)" if not run["debounce"] else f"debounce {run['debounce']:g}s"
    )


def _ratio(run: dict[str, Any]) -> float:
    return float(run["requests"]) / max(1, int(run["minimum"]))


def _memory(runs: list[dict[str, Any]]) -> list[Target]:
    if not runs:
        return []
    largest = max(runs, key=lambda r: r["deals"])
    out = [
        _target(
            f"scale {largest['deals']}", "peak RSS (MB)", largest["peak_rss_mb"], 150, most=True
        )
    ]
    smaller = [r for r in runs if r["deals"] < largest["deals"]]
    if smaller:
        small = max(smaller, key=lambda r: r["deals"])
        growth = largest["peak_rss_mb"] / small["peak_rss_mb"]
        linear = largest["deals"] / small["deals"]
        out.append(
            _target(
                f"scale {small['deals']}→{largest['deals']}",
                f"RSS growth (deals ×{linear:g})",
                growth,
                1 + (linear - 1) / 4,  # "well under linear": at most a quarter of linear growth
                most=True,
            )
        )
    return out


# --- the table ------------------------------------------------------------------------
def table(doc: dict[str, Any]) -> str:
    s, lines = doc["scenarios"], []
    lines.append(f"{'scenario':<26}{'figure':<44}{'value':>14}")
    lines.append("-" * 84)
    for run in s.get("first_mirror", []) + s.get("scale", []):
        lines.extend(_mirror_lines(run, s.get("baseline", {})))
    base = s.get("baseline", {})
    lines += _steady_lines(s["steady"], base) if "steady" in s else []
    lines += _notes_lines(s["notes"]) if "notes" in s else []
    if "idle" in s:
        for account, per in s["idle"]["per_poll"].items():
            lines.append(_row("idle", f"requests per poll: {account}", f"{per:.2f}"))
    lines += _storm_lines(s["storm"], base) if "storm" in s else []
    lines += _latency_lines(s["latency"]) if "latency" in s else []
    lines.append("")
    lines.append(f"{'target':<70}{'measured':>10}{'target':>10}  met")
    lines.append("-" * 96)
    for t in doc.get("targets", []):
        sign = "≤" if t["kind"] == "at most" else "≥"
        name = f"{t['scenario']}: {t['metric']}"
        met = "yes" if t["met"] else "NO"
        lines.append(f"{name:<70}{t['measured']:>10.3g}{sign:>3}{t['target']:>7.3g}  {met}")
    return "\n".join(lines)


def _steady_lines(st: dict[str, Any], base: dict[str, Any]) -> list[str]:
    lines = [
        _row("steady", f"requests (minimum {st['minimum']})", st["requests"]),
        _row("steady", "wall (s)", f"{st['wall']:.1f}"),
    ]
    naive = base.get("steady", {}).get("requests")
    if naive:
        ratio = f"{naive} ({naive / st['requests']:.1f}×)"
        lines.append(_row("steady", "baseline requests (ratio)", ratio))
    return lines


def _notes_lines(no: dict[str, Any]) -> list[str]:
    minimum, before = no["minimum_per_100"], no["per_deal_reads_per_100"]
    return [
        _row(
            "notes",
            f"requests per 100 changed deals (minimum {minimum:.0f})",
            f"{no['per_100']:.0f}",
        ),
        _row("notes", "one read per deal and side would add", f"{before:.0f}"),
        _row("notes", "notes not mirrored", no["lost"]),
    ]


def _storm_lines(st: dict[str, Any], base: dict[str, Any]) -> list[str]:
    figure = f"fetches for {st['distinct']} deals / {st['events']} events"
    lines = [_row("storm", figure, st["fetches"]), _row("storm", "lost", st["lost"])]
    naive = base.get("storm", {}).get("agency_fetches")
    if naive:
        lines.append(_row("storm", "baseline fetches", naive))
    for run in st.get("daemon", []):
        label = f"via daemon, {debounce_label(run)}"
        total = sum(run["requests"].values())
        lines.append(_row("storm", f"{label}: fetches/all requests", f"{run['fetches']}/{total}"))
        lines.append(_row("storm", f"{label}: lost", run["lost"]))
    return lines


def _latency_lines(la: dict[str, Any]) -> list[str]:
    keys = ("webhook_hint_to_applied", "webhook_edit_to_mirrored", "poll_only_edit_to_mirrored")
    lines = [_row("latency", f"{key} p50/p95/p99 (s)", _pct(la[key])) for key in keys]
    for run in la.get("daemon", []):
        figure = f"daemon, {debounce_label(run)}: edit-to-mirrored"
        lines.append(_row("latency", figure, _pct(run["edit_to_mirrored"])))
    return lines


def _pct(p: dict[str, float]) -> str:
    return f"{p['p50']:.2f}/{p['p95']:.2f}/{p['p99']:.2f}"


def _row(scenario: str, figure: str, value: object) -> str:
    return f"{scenario:<26}{figure:<44}{value!s:>14}"


def _mirror_lines(run: dict[str, Any], base: dict[str, Any]) -> list[str]:
    label = f"mirror {run['deals']} ({'scale' if run.get('scale') else 'real limits'})"
    lines = [
        _row(label, f"requests (minimum {run['minimum']})", run["requests"]),
        _row(label, "wall (s)", f"{run['wall']:.1f}"),
        _row(
            label,
            "rate bound / sequential bound (s)",
            f"{run['rate_bound']:.1f}/{run['sequential_bound']:.1f}",
        ),
        _row(label, "sandbox CPU (s)", f"{run.get('sandbox_seconds', 0):.1f}"),
        _row(label, "bridge peak RSS (MB)", f"{run['peak_rss_mb']:.0f}"),
        _row(label, "share of the pass spent recording", f"{run.get('record_share', 0):.0%}"),
    ]
    for account, figures in run["accounts"].items():
        lines.append(
            _row(
                label,
                f"  {account}: requests / minimum",
                f"{figures['requests']}/{figures['minimum']}",
            )
        )
    naive = base.get("first_mirror", {})
    if naive and naive.get("deals") == run["deals"] and not run.get("scale"):
        lines.append(
            _row(
                label,
                "baseline requests (ratio)",
                f"{naive['requests']} ({naive['requests'] / run['requests']:.0f}×)",
            )
        )
    return lines


# --- files ------------------------------------------------------------------------------
def write(doc: dict[str, Any], out: Path, name: str) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{name}.json", "svg": out / f"{name}.svg"}
    paths["json"].write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["svg"].write_text(svg(doc), encoding="utf-8")
    png = out / f"{name}.png"
    height = 60 + 26 * len(doc.get("targets", [])) + 60
    if to_png(paths["svg"], png, height):
        paths["png"] = png
    return paths


def svg(doc: dict[str, Any]) -> str:
    """Each target as a bar of measured ÷ target on a log scale; the line at 1 is the target."""
    rows = doc.get("targets", [])
    width, left, top, bar = 1200, 470, 60, 26
    height = top + bar * len(rows) + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="DejaVu Sans, sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="20" y="30" font-size="18">partner-bridge benchmarks — measured ÷ target '
        '(log scale; left of the line is better for "at most", right for "at least")</text>',
    ]
    for decade in (0.01, 0.1, 1, 10, 100):
        x = _axis(decade)
        parts.append(
            f'<line x1="{x:.0f}" y1="{top - 10}" x2="{x:.0f}" y2="{height - 40}" '
            f'stroke="{"#333" if decade == 1 else "#ddd"}"/>'
        )
        parts.append(f'<text x="{x:.0f}" y="{height - 22}" text-anchor="middle">{decade:g}×</text>')
    for n, t in enumerate(rows):
        y = top + n * bar
        value = t["measured"] / t["target"] if t["target"] else (1.0 if not t["measured"] else 10)
        x0, x1 = _axis(1), _axis(value)
        colour = "#2e8b57" if t["met"] else "#c0392b"
        label = f"{t['scenario']}: {t['metric']}".replace("&", "&amp;").replace("<", "&lt;")
        parts.append(f'<text x="{left - 10}" y="{y + 17}" text-anchor="end">{label}</text>')
        parts.append(
            f'<rect x="{min(x0, x1):.1f}" y="{y + 5}" width="{abs(x1 - x0):.1f}" '
            f'height="{bar - 10}" fill="{colour}"/>'
        )
        figure = f"{t['measured']:.3g} / {t['target']:.3g}"
        parts.append(f'<text x="{max(x0, x1) + 6:.1f}" y="{y + 17}">{figure}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _axis(value: float) -> float:
    return 790 + 140 * math.log10(max(value, 1e-3))


def to_png(svg_path: Path, png: Path, height: int = 800) -> bool:
    """Render with headless chromium when it is installed; the suite never needs it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return False
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size=1200,{height}",
            svg_path.resolve().as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=60, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired):
            return False
    return png.exists()


def markdown(doc: dict[str, Any], chart: str) -> str:
    """The generated part of RESULTS.md: machine, parameters, the table, the chart."""
    m, p = doc["machine"], doc["params"]
    return "\n".join(
        [
            f"Run {doc['started_at']} in {doc['seconds']:.0f} s on {m['cores']} cores "
            f"({m['cpu'] or 'unknown CPU'}), Python {m['python']}, {m['system']}.",
            "",
            f"Parameters: first-mirror sizes {p['deals']}, latency {p['latency']} s per request "
            f"(rate-limited configuration), {p['changes']} steady-state changes, "
            f"{p['idle_polls']} idle polls, storm {p['storm_events']} events on "
            f"{p['storm_deals']} deals, {p['trickle']} latency changes (half as many per daemon "
            f"run), daemon debounces {p['debounces']}.",
            "",
            "```text",
            table(doc),
            "```",
            "",
            f"![measured ÷ target]({chart})",
            "",
        ]
    )
