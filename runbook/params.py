"""Bounds of request parameters that reach the database, for routers' `Path` / `Query`.

A value the database cannot hold must be a 422 at the boundary, not a driver error (a 500):
PostgreSQL `integer` columns hold -2**31..2**31-1, `bigint` ones -2**63..2**63-1, and its text
cannot contain NUL characters.

    version: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None
    run_id: Annotated[str, Path(pattern=NO_NUL)]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"


def _convertible_to_utc(moment: datetime) -> datetime:
    """The moment unchanged, when it is expressible in UTC (naive counts as UTC); `0001-01-01
    00:00+01:00` is not, and neither database nor `astimezone` can take it."""
    if moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError as error:
            raise ValueError("date is out of range once converted to UTC") from error
    return moment


Moment = Annotated[datetime, AfterValidator(_convertible_to_utc)]
