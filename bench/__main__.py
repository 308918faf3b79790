"""`python -m bench`: run the benchmarks and write bench/RESULTS.md.

Each benchmark runs `--rounds` times (cold start: once, with `--repeat` spawns of each server); a figure is the
median round, with the spread in its note. `--before FILE` adds a before/after table from an earlier run's
`--json` output (the same command run on other code, e.g. a checkout without a change).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio

from runbridge.core.logs import configure_logging

from . import agents, coldstart, concurrency, gates, overhead, pipeline, replicas, store, store_redis
from ._support import Figure, Outcome, load_average, machine
from .report import from_json, render, to_json

BENCHMARKS = ("overhead", "pipeline", "concurrency", "coldstart", "gates", "store", "agents", "store-redis", "replicas")
DEFAULT = BENCHMARKS[:-2]  # store-redis needs a redis-server, replicas also haproxy: asked for by name
HERE = Path(__file__).parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(DEFAULT), help=f"comma-separated subset of {BENCHMARKS}")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per benchmark (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs, in seconds")
    parser.add_argument("--samples", type=int, default=300, help="overhead: calls of each kind per round")
    parser.add_argument("--events", type=int, default=20_000, help="pipeline: events in the burst")
    parser.add_argument("--steady", type=int, default=5_000, help="pipeline: events at the steady rate")
    parser.add_argument("--rate", type=float, default=1_000.0, help="pipeline: the steady rate, events/s")
    parser.add_argument("--repeat", type=int, default=3, help="pipeline bursts, cold-start spawns/3, gated runs")
    parser.add_argument("--runs", type=int, default=500, help="concurrency: runs watched at once")
    parser.add_argument("--run-events", type=int, default=30, help="concurrency: events per run")
    parser.add_argument("--run-rate", type=float, default=1.0, help="concurrency: events per second per run")
    parser.add_argument("--store-samples", type=int, default=100, help="store: calls of each kind per size")
    parser.add_argument(
        "--store-sizes", default="10,1000,10000,100000", help="store: recorded runs, comma-separated sizes"
    )
    parser.add_argument("--replica-clients", type=int, default=12, help="replicas: clients calling at once")
    parser.add_argument("--replica-seconds", type=float, default=10.0, help="replicas: seconds measured per size")
    parser.add_argument(
        "--output", type=Path, default=HERE / "RESULTS.md", help="the report (default bench/RESULTS.md)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--before", type=Path, help="a --json file from the same benchmarks on earlier code")
    parser.add_argument("--before-label", default="the code before the change", help="what --before measured")
    return parser


def _plan(args: argparse.Namespace) -> dict[str, Callable[[], Outcome]]:
    if args.quick:
        args.samples, args.events, args.steady, args.rate, args.repeat = 5, 300, 200, 500.0, 1
        args.runs, args.run_events, args.run_rate, args.rounds = 5, 5, 50.0, 1
        args.store_samples, args.store_sizes = 5, "10,100"
        args.replica_clients, args.replica_seconds = 2, 1.0
    sizes = tuple(int(size) for size in args.store_sizes.split(","))
    return {
        "overhead": lambda: anyio.run(overhead.measure, args.samples, 2 if args.quick else 30),
        "pipeline": lambda: anyio.run(pipeline.measure, args.events, args.steady, args.rate, args.repeat),
        "concurrency": lambda: anyio.run(concurrency.measure, args.runs, args.run_events, args.run_rate),
        "coldstart": lambda: coldstart.measure(max(2, args.repeat * 3)),
        "gates": lambda: anyio.run(gates.measure, args.repeat),
        "store": lambda: anyio.run(store.measure, args.store_samples, sizes),
        "store-redis": lambda: anyio.run(store_redis.measure, args.store_samples, sizes),
        "replicas": lambda: anyio.run(replicas.measure, args.replica_clients, args.replica_seconds),
        "agents": lambda: anyio.run(agents.measure, max(2, args.repeat * 3), 5 if args.quick else 50),
    }


def _median_round(rounds: list[Outcome]) -> Outcome:
    """One outcome whose figures are each the median round's (with the spread noted)."""
    if len(rounds) == 1:
        return rounds[0]
    first = rounds[0]
    figures: list[Figure] = []
    for i in range(len(first.figures)):
        values = sorted((r.figures[i] for r in rounds), key=lambda f: f.value)
        chosen = values[len(values) // 2]
        spread = f"median of {len(rounds)} rounds ({values[0].value:,.2f} - {values[-1].value:,.2f})"
        chosen.note = f"{chosen.note}; {spread}" if chosen.note else spread
        figures.append(chosen)
    details = {f"round {n + 1}": r.details for n, r in enumerate(rounds)}
    details["medians"] = {f.name: statistics.median(r.figures[i].value for r in rounds) for i, f in enumerate(figures)}
    return Outcome(
        first.name, first.command, figures=figures, accounted=all(r.accounted for r in rounds), details=details
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("WARNING")
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmarks: {sorted(unknown)}", file=sys.stderr)
        return 2
    plan = _plan(args)
    host = machine()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    outcomes: list[Outcome] = []
    for name in chosen:
        rounds = 1 if name == "coldstart" else max(1, args.rounds)
        results = []
        for n in range(rounds):
            clock = time.perf_counter()
            results.append(plan[name]())
            print(f"{name} round {n + 1}/{rounds}: {time.perf_counter() - clock:.1f} s", file=sys.stderr)
        outcome = _median_round(results)
        outcomes.append(outcome)
        for f in outcome.figures:
            print(f"  {f.name}: {f.value:,.3f} {f.unit} ({f.absolute})", file=sys.stderr)
    command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    before = from_json(args.before) if args.before else None
    text = render(
        outcomes,
        host,
        started=started,
        command=command.strip(),
        load_after=f"{load_average():.2f}",
        before=before,
        before_label=args.before_label,
    )
    args.output.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(to_json(outcomes, host, started), indent=1), encoding="utf-8")
    missing = [o.name for o in outcomes if not o.accounted]
    if missing:
        print(f"events were lost in: {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
