"""Fixtures the whole suite shares, declared once.

Builders and paths are in :mod:`helpers`, real brokers and worker processes in :mod:`support` (both
imported as modules, never from a conftest). The ``broker`` fixture is parametrised by engine, so every
test that uses it runs once on the embedded Tansu and once on Apache Kafka (a single KRaft node); pytest
groups the tests by engine. A test that holds only on one engine says so with
``@pytest.mark.parametrize("broker", ["tansu"], indirect=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import helpers
from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker import ENGINES, Broker
from crossbound.codec import Codec, SchemaRegistry
from crossbound.rules import Catalogue, load_catalogue
from crossbound.topics import Topics
from support import Brokers, unique_topics


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return helpers.ROOT


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    """The shipped schemas (read-only: tests that change schemas load their own copy)."""
    return SchemaRegistry.load(default_schemas_dir())


@pytest.fixture(scope="session")
def codec(registry: SchemaRegistry) -> Codec:
    return Codec(registry)


@pytest.fixture(scope="session")
def catalogue(registry: SchemaRegistry) -> Catalogue:
    """The shipped rule sets over the shipped schemas."""
    return load_catalogue(default_rulesets_dir(), registry)


@pytest.fixture
def topics() -> Topics:
    """Topics and app id of this test alone, so tests never see each other's records."""
    return unique_topics()


@pytest.fixture(scope="session")
def brokers() -> Iterator[Brokers]:
    """The running brokers, one per engine, started on first use (nothing starts for unit tests)."""
    running = Brokers()
    yield running
    running.close()


@pytest.fixture(scope="session", params=ENGINES)
def broker(request: pytest.FixtureRequest, brokers: Brokers) -> Broker:
    return brokers.get(request.param)
