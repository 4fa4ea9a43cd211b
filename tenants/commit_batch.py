"""Work a commit needs done once, however many of its changes ask for it (ADR 0067).

Django runs a commit's ``on_commit`` callbacks one after another, right after the commit, in
the committing thread. Each change still registers its own callback (so a rolled-back
savepoint takes its request with it, as Django decides), but the callbacks registered for one
commit share a ``CommitBatch``: the first of them to run for a key does the work, the others of
the same commit find the key done. By the time the first callback runs, every change of the
commit is already committed, so work done then (making a cache stale) covers all of them.

A batch belongs to the connection it was taken from and stays current until one of its
callbacks runs; the next change after that starts a new batch. A batch whose callbacks never
ran (the transaction was rolled back) carries nothing over: it is simply reused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(eq=False)
class CommitBatch:
    started: bool = False
    done: set[Hashable] = field(default_factory=set)

    def once(self, key: Hashable, work: Callable[[], None]) -> None:
        """From an ``on_commit`` callback of this batch: run ``work`` unless this commit
        already ran the work of ``key``."""
        self.started = True
        if key in self.done:
            return
        self.done.add(key)
        with _running(self):
            work()


_BATCHES: WeakKeyDictionary[BaseDatabaseWrapper, CommitBatch] = WeakKeyDictionary()
_RUNNING: ContextVar[CommitBatch | None] = ContextVar("commit_batch_running", default=None)


@contextmanager
def _running(batch: CommitBatch) -> Iterator[None]:
    token = _RUNNING.set(batch)
    try:
        yield
    finally:
        _RUNNING.reset(token)


def current(using: str = DEFAULT_DB_ALIAS) -> CommitBatch:
    """The batch the callbacks registered now belong to."""
    connection = transaction.get_connection(using)
    batch = _BATCHES.get(connection)
    if batch is None or batch.started:
        batch = _BATCHES[connection] = CommitBatch()
    return batch


def running() -> CommitBatch | None:
    """The batch whose ``once`` work is running now (a listener called from it can fold its
    own work into the same commit), or None."""
    return _RUNNING.get()


def on_commit_once(key: Hashable, work: Callable[[], None]) -> None:
    """``transaction.on_commit(work)``, except that a commit runs the work of ``key`` once."""
    batch = current()
    # A partial, not a lambda: what it will do (``.args``: the key) can be read off it.
    transaction.on_commit(functools.partial(batch.once, key, work))
