from __future__ import annotations

from tests.fakes.fixtures import db, fakes

__all__ = ["db", "fakes"]
