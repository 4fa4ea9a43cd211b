"""Real concurrent transactions for the race tests: each call on a thread of its own, with its
own database connection, released at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TypeVar

from django.db import connections
from django_tenants.utils import schema_context

T = TypeVar("T")


def race(calls: Sequence[Callable[[Callable[[], object]], T]], *, schema: str = "") -> list[T]:
    """Run ``calls`` at once and return what each returned, in their order. Each call is given
    ``go``: it prepares what it needs, then calls ``go()``, which waits until every call is
    ready and lets them all on together. With ``schema``, each runs in that workspace. The first
    error a call raised is raised here, once every thread has ended; a call that fails before
    ``go()`` releases the others at once (their ``go()`` raises ``BrokenBarrierError``)."""
    barrier = threading.Barrier(len(calls), timeout=60)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[Callable[[], object]], T]) -> None:
        try:
            with schema_context(schema) if schema else nullcontext():
                results[index] = call(barrier.wait)
        except BaseException as exc:  # raised in the test's thread below
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results[index] for index in range(len(calls))]
