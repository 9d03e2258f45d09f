"""The Apache Kafka jars and the Java that runs them, for :mod:`crossbound.broker.kafka`.

The jars come from Maven Central at a pinned version (:data:`KAFKA_VERSION`) through the small Maven
descriptor shipped beside this module (``kafka_dist/pom.xml``) into a cache directory:
``crossbound broker --engine kafka --fetch`` (run by ``make kafka``, and so by ``make test``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from crossbound.errors import BrokerError, BrokerNotFound

__all__ = ["KAFKA_VERSION", "default_libs_dir", "fetch_kafka", "find_java", "find_kafka_libs"]

KAFKA_VERSION = "4.4.0"
_SERVER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
_COMPLETE = ".complete"  # written last by fetch_kafka: a half-copied directory is never used


def default_libs_dir() -> Path:
    """``$XDG_CACHE_HOME/crossbound/kafka-<version>`` (default ``~/.cache/crossbound/...``)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "crossbound" / f"kafka-{KAFKA_VERSION}"


def find_java() -> Path:
    """The ``java`` executable: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("java")
    if on_path is not None:
        return Path(on_path)
    raise BrokerNotFound(
        "no Java runtime for Apache Kafka: set JAVA_HOME or put `java` (17 or newer) on PATH; "
        "on Debian `apt-get install openjdk-17-jre-headless`, or run `make kafka`, which installs it"
    )


def find_kafka_libs(explicit: Path | None = None) -> Path:
    """The directory of Kafka jars: ``explicit`` (the ``CROSSBOUND_KAFKA_LIBS`` setting) or the cache.

    An explicit directory must hold a ``kafka_2.13-*.jar`` (any 4.x, e.g. an Apache Kafka download's
    ``libs/``); the cache directory must be complete (filled by :func:`fetch_kafka`).
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_dir() and any(path.glob("kafka_2.13-*.jar")):
            return path
        raise BrokerNotFound(
            f"CROSSBOUND_KAFKA_LIBS={str(explicit)!r} is not a directory holding kafka_2.13-*.jar"
        )
    cached = default_libs_dir()
    if (cached / _COMPLETE).is_file() and (cached / _SERVER_JAR).is_file():
        return cached
    raise BrokerNotFound(
        f"no Apache Kafka {KAFKA_VERSION} jars in {cached}: run `make kafka` (or "
        "`crossbound broker --engine kafka --fetch`, which needs Maven), or set CROSSBOUND_KAFKA_LIBS "
        "to a directory of Kafka 4.x jars such as an Apache Kafka download's libs/"
    )


def _pom_text() -> str:
    return resources.files("crossbound.broker").joinpath("kafka_dist", "pom.xml").read_text("utf-8")


def fetch_kafka(target: Path | None = None, *, mvn: str | None = None) -> Path:
    """Copy the pinned Kafka jars and their dependencies from Maven Central into ``target``.

    Does nothing when ``target`` is already complete. The copy goes to a temporary directory beside
    ``target`` and is renamed into place, so an interrupted fetch leaves nothing half-done.
    """
    target = target if target is not None else default_libs_dir()
    if (target / _COMPLETE).is_file() and (target / _SERVER_JAR).is_file():
        return target
    maven = mvn or shutil.which("mvn")
    if maven is None:
        raise BrokerNotFound(
            "Maven (`mvn`) is needed to fetch the Apache Kafka jars; on Debian `apt-get install maven`, "
            "or run `make kafka`, which installs it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        pom = staging / "pom.xml"
        pom.write_text(_pom_text(), encoding="utf-8")
        libs = staging / "libs"
        argv = [
            maven,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603  fixed argv
        if done.returncode != 0 or not (libs / _SERVER_JAR).is_file():
            tail = (done.stdout + done.stderr).strip()[-2000:]
            raise BrokerError(
                f"fetching Apache Kafka {KAFKA_VERSION} with Maven failed ({done.returncode}):\n{tail}"
            )
        (libs / _COMPLETE).write_text(f"kafka {KAFKA_VERSION}\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(libs, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
