"""Where a worker's CPU goes per verdict: Faust, mode, aiokafka, asyncio, crossbound, the codecs.

Starts a fresh broker, a ``crossbound worker`` under benchmarks/profiled.py (cProfile in every
thread), publishes a backlog (request-only or attested, as bench.py does), waits for every verdict,
stops the worker and sums the profile's own time (``tottime``) per package, per thread, divided by the
verdicts. Then the top functions outside crossbound. cProfile's overhead weighs on small calls (each
costs about a microsecond more), so the split is a guide, not the cost without the profiler: bench.py
measures that.

    python benchmarks/faust_profile.py [--engine tansu|kafka] [--kind request_only|attested] [--n N]
                                       [--top K] [--env NAME=VALUE ...]

Only the backlog's window is kept (profiled.py's reset and stop files), and the main thread's Python
calls per verdict are counted too: a count, which the machine's load moves far less than a time.
``--env`` passes settings to the worker (e.g. ``CROSSBOUND_KAFKA__FAUST_STOCK='["quiet_monitor"]'``);
``--report DIR`` reports an earlier run's profiles again.
"""

from __future__ import annotations

import argparse
import asyncio
import marshal
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import SCENARIOS, Phase

from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import ENGINES, apply_tansu_workarounds, make_broker, remove_tansu_workarounds
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import load_catalogue
from crossbound.testing.traffic import Traffic

#: path fragment -> bucket, first match wins
BUCKETS = (
    ("/crossbound/", "crossbound"),
    ("/faust/", "faust"),
    ("/mode/", "mode"),
    ("/aiokafka/", "aiokafka"),
    ("/fastavro/", "fastavro"),
    ("/cel", "cel"),
    ("/asyncio/", "asyncio"),
    ("uvloop", "asyncio"),
)


#: builtins that wait (a thread blocked in them uses no CPU): counted apart
WAITS = ("poll", "select", "epoll", "acquire", "sleep", "wait", "run_forever", "run_until_complete")


def bucket(filename: str, funcname: str) -> str:
    if filename == "~" and any(word in funcname for word in WAITS):
        return "waiting (not CPU)"
    for fragment, name in BUCKETS:
        if fragment in filename:
            return name
    if filename == "~":  # a builtin: attribute it by its name
        return "builtins " + ("(asyncio/uvloop)" if "loop" in funcname.lower() else "(other)")
    return "other"


class ProfiledPhase(Phase):
    """A Phase whose worker runs under benchmarks/profiled.py, writing its profiles into ``outdir``."""

    def __init__(self, *args: Any, outdir: Path, env: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outdir, self.env = outdir, env

    def launch(self, metrics_port: int, log: Path, extra: list[str]) -> Any:
        tansu = self.broker.engine == "tansu"
        wrapper = Path(__file__).with_name("profiled.py")
        cmd = [sys.executable, str(wrapper), str(self.outdir), "-m", "crossbound", "worker"]
        cmd += ["--broker", self.broker.url, "--metrics-port", str(metrics_port)]
        cmd += [*(["--session-timeout", "3"] if tansu else []), *extra]
        env = {**os.environ, "CROSSBOUND_KAFKA__COMPAT_TANSU": "true" if tansu else "false", **self.env}
        with log.open("ab") as out:
            return subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )


def report(outdir: Path, n: int, top: int) -> None:
    per_bucket: dict[tuple[str, str], float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)  # main thread's calls per bucket: a count, little moved by load
    funcs: dict[tuple[str, int, str], float] = defaultdict(float)
    for path in sorted(outdir.glob("*.pstats")):
        thread = path.stem
        with path.open("rb") as data:
            stats: dict[Any, Any] = marshal.load(data)  # as profiled.py wrote it (pstats refuses empty ones)
        for (filename, line, funcname), (_cc, ncalls, tottime, _ct, _callers) in stats.items():
            per_bucket[(thread, bucket(filename, funcname))] += tottime
            if thread == "main":
                calls[bucket(filename, funcname)] += ncalls
            funcs[(filename, line, funcname)] += tottime
    waiting = sum(t for (_thread, name), t in per_bucket.items() if name == "waiting (not CPU)")
    total = sum(per_bucket.values()) - waiting
    print(
        f"profiled CPU: {total / n * 1e6:,.0f} us per verdict over {n} verdicts (cProfile on); "
        f"waiting in poll/locks/sleep (not counted): {waiting / n * 1e6:,.0f} us"
    )
    for (thread, name), seconds in sorted(per_bucket.items(), key=lambda kv: -kv[1]):
        if name != "waiting (not CPU)" and seconds / total >= 0.005:
            print(f"  {thread:28} {name:26} {seconds / n * 1e6:8,.1f} us/verdict  {seconds / total:6.1%}")
    print(
        f"calls per verdict in the main thread: {sum(calls.values()) / n:,.0f} in all; "
        + ", ".join(
            f"{name} {count / n:,.0f}" for name, count in sorted(calls.items(), key=lambda kv: -kv[1])
        )
    )
    print(f"top {top} functions outside crossbound (own time):")
    ranked = sorted(
        (
            (t, f)
            for f, t in funcs.items()
            if "/crossbound/" not in f[0] and bucket(f[0], f[2]) != "waiting (not CPU)"
        ),
        key=lambda tf: -tf[0],
    )
    for seconds, (filename, line, funcname) in ranked[:top]:
        short = "/".join(filename.split("/")[-3:])
        print(f"  {seconds / n * 1e6:7.1f} us  {seconds / total:5.1%}  {funcname} ({short}:{line})")


async def profiled_backlog(phase: ProfiledPhase, cases: list[Any], outdir: Path) -> tuple[float, float]:
    """bench.backlog_phase, with the profile window from just before the backlog to its last verdict."""
    await phase.start_workers()
    try:
        (outdir / "reset").touch()
        await asyncio.sleep(0.3)  # the watcher polls every 50 ms
        cpu0 = phase.cpu()
        async with phase.bus as bus:
            for topic, key, value in [bus.encode_case(case) for case in cases]:
                await bus.send(topic, key, value)
            await bus.wait_for(lambda: len(bus.verdicts) >= len(cases), timeout_s=900, what="the backlog")
            cpu_end = phase.cpu()
            (outdir / "stop").touch()
            end = time.monotonic() + 60
            while not (outdir / "done").exists() and time.monotonic() < end:  # noqa: ASYNC110  a file
                await asyncio.sleep(0.1)
    finally:
        phase.stop()
    return phase.rate(), (cpu_end - cpu0) / len(cases) * 1e6


async def main(args: argparse.Namespace) -> None:
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    catalogue = load_catalogue(default_rulesets_dir(), codec.registry)
    traffic = Traffic(seed=2026)
    outdir = Path(tempfile.mkdtemp(prefix="crossbound-profile-"))
    env = dict(item.split("=", 1) for item in args.env)
    if args.engine == "tansu":
        apply_tansu_workarounds()
    try:
        with make_broker(args.engine) as broker:
            phase = ProfiledPhase(broker, codec, catalogue, "pf", outdir=outdir, env=env)
            fixture = "invalid" if args.kind == "request_only" else "valid"
            cases = [traffic.case(SCENARIOS[i % 3], fixture) for i in range(args.n)]
            rate, cpu = await profiled_backlog(phase, cases, outdir)
    finally:
        remove_tansu_workarounds()
    print(f"{args.kind} on {args.engine}, profiled: {rate:,.0f} verdicts/s, worker CPU {cpu:,.0f} us/verdict")
    print(f"profiles in {outdir}")
    report(outdir, args.n, args.top)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default="tansu")
    parser.add_argument("--kind", choices=("request_only", "attested"), default="request_only")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--report", type=Path, help="only report the profiles in this directory")
    args = parser.parse_args()
    if args.report:
        report(args.report, args.n, args.top)
    else:
        asyncio.run(main(args))


if __name__ == "__main__":
    cli()
