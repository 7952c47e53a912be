"""``python -m benchmarks``: the benchmark suite (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks import report
from benchmarks.suite import SCENARIOS, Params, run

HUGE = 100_000  # the scale configuration's largest first mirror, behind --huge


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run (< 1 minute)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="repeatable")
    parser.add_argument("--latency", type=float, help="simulated seconds per request (0.1)")
    parser.add_argument("--deals", help="first-mirror sizes, e.g. 1000,10000,50000")
    parser.add_argument("--changes", type=int, help="steady-state changes (500)")
    parser.add_argument(
        "--huge",
        action="store_true",
        help=f"also the {HUGE:,}-deal first mirror in the scale configuration (long)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--name", help="result file name (default: default / quick)")
    parser.add_argument("--experiment", help="try a proposed bridge change (experiments.py)")
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="1/2/4 workers on PostgreSQL (BRIDGE_TEST_PG_URL; --deals N, --changes N)",
    )
    parser.add_argument(
        "--resolution",
        action="store_true",
        help="200 partners: bridge sync --partner X, bridge check, daemon start vs bounds",
    )
    parser.add_argument("--partners", type=int, help="--resolution: partners (200)")
    parser.add_argument("--markdown", type=Path, help="also write the table here (RESULTS.md)")
    return parser


def params_from(args: argparse.Namespace) -> Params:
    params = Params.quick_run() if args.quick else Params()
    if args.scenario:
        params.scenarios = tuple(args.scenario)
    if args.latency is not None:
        params.latency = args.latency
    if args.deals:
        params.deals = sorted(int(n) for n in args.deals.split(","))
    if args.changes is not None:
        params.changes = args.changes
    if args.huge and HUGE not in params.deals:
        params.deals = sorted([*params.deals, HUGE])
    return params


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.scale_out:
        return _scale_out(args)
    if args.resolution:
        return _resolution(args)
    if args.partners and not args.resolution:
        return _partners(args)
    params = params_from(args)
    if args.experiment:
        os.environ["BENCH_EXPERIMENT"] = args.experiment  # the bridge process reads it
        params.experiment = args.experiment
    doc = run(params, log=lambda line: print(f"… {line}", file=sys.stderr, flush=True))
    doc["targets"] = report.targets(doc)
    name = args.name or ("quick" if args.quick else "default")
    paths = report.write(doc, args.out, name)
    print(report.table(doc))
    print(
        f"\nsuite took {doc['seconds']:.0f} s; wrote " + ", ".join(str(p) for p in paths.values())
    )
    json.loads(paths["json"].read_text(encoding="utf-8"))  # the file must stay well-formed
    if args.markdown is not None:
        chart = paths.get("png", paths["svg"])
        relative = Path(os.path.relpath(chart, args.markdown.resolve().parent))
        args.markdown.write_text(report.markdown(doc, relative.as_posix()), encoding="utf-8")
    return 0


def _scale_out(args: argparse.Namespace) -> int:
    from benchmarks import scale_out

    params = scale_out.ScaleParams()
    if args.deals:
        params.deals = int(args.deals.split(",")[0])
    if args.changes is not None:
        params.changes = args.changes
    if args.latency is not None:
        params.latency = args.latency
    rows = scale_out.run(params, log=lambda line: print(f"… {line}", file=sys.stderr, flush=True))
    print(scale_out.table(rows))
    return 0


def _resolution(args: argparse.Namespace) -> int:
    from benchmarks import resolution

    params = resolution.ResolutionParams()
    if args.partners is not None:
        params.partners = args.partners
    if args.latency is not None:
        params.latency = args.latency
    figures = resolution.run(params, log=lambda line: print(f"… {line}", file=sys.stderr))
    print(resolution.table(figures))
    return 0


def _partners(args: argparse.Namespace) -> int:
    import tempfile

    from benchmarks import partners

    with tempfile.TemporaryDirectory(prefix="bench-partners-") as tmp:
        result = partners.run(
            Path(tmp),
            partners=args.partners,
            deals_per_partner=2,
            latency=0.1 if args.latency is None else args.latency,
            quiet_polls=3,
            edits=30 if args.changes is None else args.changes,
            pass_wait=1.0,
            deadline=30.0,
            log=lambda line: print(f"… {line}", file=sys.stderr, flush=True),
        )
    print("\n".join(partners.lines(result)))
    print(partners.table(result))
    sys.stdout.flush()
    os._exit(0)  # the hung partner's abandoned calls may still be waiting: not on them


if __name__ == "__main__":
    raise SystemExit(main())
