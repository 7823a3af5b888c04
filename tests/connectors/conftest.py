from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.runtime import ConnectorRuntime
from tests.fakes.environment import Fakes, fake_settings
from tests.fakes.fixtures import fakes

__all__ = ["fakes"]


@pytest.fixture
def runtime_for(fakes: Fakes) -> Iterator[object]:
    made: list[ConnectorRuntime] = []

    def make(**overrides: object) -> ConnectorRuntime:
        runtime = ConnectorRuntime(fake_settings(fakes, **overrides))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
