"""Work to start after the transaction commits: never enqueue a job for a row not yet visible."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

Dispatcher = Callable[[str, tuple[Any, ...]], None]
_KEY = "pakn_deferred_jobs"
_dispatcher: Dispatcher | None = None


def defer(session: Session, job: str, *args: Any) -> None:
    """Queue `job(*args)` to be enqueued once `session` commits; dropped on rollback."""
    pending: list[tuple[str, tuple[Any, ...]]] = session.info.setdefault(_KEY, [])
    if (job, args) not in pending:
        pending.append((job, args))


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    if _dispatcher is None:
        return
    for job, args in pending:
        _dispatcher(job, args)


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def install(_scoped: Any, dispatcher: Dispatcher) -> None:
    """Bind the dispatcher (the queue module) once per process."""
    global _dispatcher
    _dispatcher = dispatcher
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
