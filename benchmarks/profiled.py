"""Run a Python module or script under cProfile, every thread with a profile of its own.

Faust's aiokafka driver runs the consumer in a thread of its own (``ConsumerThread``), which a plain
``python -m cProfile`` never sees. This wrapper profiles the main thread and every thread started
after it. Only a window is kept: when the file OUTDIR/reset appears every profile is cleared (so
start-up is not counted), and when OUTDIR/stop appears every profile is written, one ``pstats``
file per thread, then OUTDIR/done (a watcher thread, itself unprofiled, polls for both files).

    python benchmarks/profiled.py OUTDIR -m crossbound worker ...
    python benchmarks/profiled.py OUTDIR benchmarks/faust_floor.py BOOTSTRAP SRC DST APP_ID

``benchmarks/faust_profile.py`` reads the files.
"""

from __future__ import annotations

import cProfile
import marshal
import runpy
import sys
import threading
import time
from pathlib import Path
from typing import Any

_PROFILES: dict[str, cProfile.Profile] = {}


def _profile_threads() -> None:
    """Give every thread started from now on a profile of its own (``threading.setprofile``: a
    subclass overriding ``Thread.run``, as mode's ``WorkerThread``, is covered too)."""

    def first_call(frame: Any, event: str, arg: Any) -> None:
        thread = threading.current_thread()
        prof = cProfile.Profile()
        _PROFILES[f"thread-{thread.name.replace('/', '_').replace(' ', '_')}-{thread.ident}"] = prof
        prof.enable()  # replaces this hook for the thread

    threading.setprofile(first_call)


def _watch(outdir: Path) -> None:
    """Clear every profile at OUTDIR/reset; write them all at OUTDIR/stop (snapshots: read-only)."""
    for name in ("reset", "stop"):
        while not (outdir / name).exists():
            time.sleep(0.05)
        for key, prof in list(_PROFILES.items()):
            if name == "reset":
                prof.clear()
            else:
                prof.snapshot_stats()  # type: ignore[attr-defined]
                with (outdir / f"{key}.pstats").open("wb") as out:
                    marshal.dump(prof.stats, out)  # type: ignore[attr-defined]
    (outdir / "done").touch()


def main(argv: list[str]) -> None:
    outdir = Path(argv[0])
    outdir.mkdir(parents=True, exist_ok=True)
    watcher = threading.Thread(target=_watch, args=(outdir,), name="profile-watcher", daemon=True)
    watcher.start()  # before the patch: not profiled
    _profile_threads()
    if argv[1] == "-m":
        target, args, runner = argv[2], argv[3:], runpy.run_module
    else:
        target, args, runner = argv[1], argv[2:], runpy.run_path
    sys.argv = [target, *args]
    prof = cProfile.Profile()
    _PROFILES["main"] = prof
    prof.enable()
    try:
        kwargs: dict[str, Any] = {"run_name": "__main__"}
        if runner is runpy.run_module:
            kwargs["alter_sys"] = True
        runner(target, **kwargs)
    finally:
        prof.disable()


if __name__ == "__main__":
    main(sys.argv[1:])
