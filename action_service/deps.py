"""Dependencies of the action_service routers (what the app keeps on `app.state`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from runbook.db import session_scope


def get_session(request: Request) -> Iterator[Session]:
    """Committed when the endpoint returns, rolled back on error, closed before answering."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
