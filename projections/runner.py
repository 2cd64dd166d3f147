"""Runs projections: catch up from the checkpoint, follow the log live, rebuild on demand.

Each batch of events is applied to a View and committed together with the new checkpoint,
so a crash between batches neither loses nor repeats anything.

Following live, one task serves every projection: it reads what is new once, gives each
projection the events it handles, and commits all their writes and checkpoints in one
transaction. Per projection that would be a head read, a log read and a commit for every
commit to the log, which under load was most of the store's work (measured: ~30 of the ~48
store round trips per subscription of a billing run).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from billing_grpc.domain.errors import Unavailable
from billing_grpc.eventstore import EventFilter, EventStore, RecordedEvent
from projections.model import Prefetching, Projection, View
from projections.store import Batch, CheckpointMoved, ReadModelStore

log = logging.getLogger(__name__)


class ReadModelListener(Protocol):
    """Something that keeps copies of read models in memory (a cache) and must drop what changed."""

    def changed(self, events: Sequence[RecordedEvent] | None) -> None:
        """The read models now reflect `events` (None: anything may have changed)."""
        ...


class ProjectionRunner:
    """Keeps a set of projections up to date with the log."""

    def __init__(
        self,
        store: EventStore,
        read_models: ReadModelStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        retry_delay: float = 1.0,
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        if any(not p.handles for p in projections):
            raise ValueError("every projection must name the event types it handles")
        self._store = store
        self._read_models = read_models
        self._projections = list(projections)
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retry_delay = retry_delay
        # The position each projection is known to reflect in this process.
        self._reached = {name: 0 for name in names}
        # The newest log head this runner has read: with `_reached`, the lag, known without a store call.
        self._head = 0
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._types = frozenset().union(*(p.handles for p in projections))
        self._listeners: list[ReadModelListener] = []

    def listen(self, listener: ReadModelListener) -> None:
        """Tell `listener` what every committed batch applied, before `wait_until` sees it reached.

        So a cache that drops what the events touch answers fresh to anyone who waited for a
        command's position (read-your-writes), and within the poll interval for other instances'.
        """
        self._listeners.append(listener)

    def _changed(self, events: Sequence[RecordedEvent] | None) -> None:
        for listener in self._listeners:
            listener.changed(events)

    def lag(self) -> dict[str, int]:
        """Per projection, the log positions between the newest head read and what it reflects."""
        return {name: max(0, self._head - reached) for name, reached in self._reached.items()}

    @property
    def projections(self) -> list[Projection]:
        """The projections this runner keeps."""
        return list(self._projections)

    async def start(self) -> None:
        """Create indexes, then follow the log in the background, one task per projection."""
        for projection in self._projections:
            await self._read_models.ensure_indexes(projection.collections)
        self._tasks = [asyncio.create_task(self._follow(), name="projections")]

    async def stop(self) -> None:
        """Stop following; committed batches stay committed."""
        self._stopping = True
        pending = set(self._tasks)
        while pending:
            # A cancellation that lands inside a driver call was seen consumed there (pymongo's
            # async socket read), leaving the task running: cancel again until every task ends;
            # the stop flag ends each loop at its next turn in any case.
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        self._tasks = []

    async def catch_up(self) -> int:
        """Apply everything in the log now, for every projection; return the head reached."""
        head = await self._store.head_position()
        self._head = max(self._head, head)
        for projection in self._projections:
            await self._catch_up(projection, head)
        return head

    async def rebuild(
        self, projection: Projection, *, until: int | None = None, progress: Callable[[int], None] | None = None
    ) -> None:
        """Drop a projection's read model and checkpoint and replay it from position 0.

        `until` stops exactly at that position (a verification compares at a fixed position);
        `progress` hears how many events each batch applied.
        """
        await self._read_models.reset(projection.name, list(projection.collections))
        await self._read_models.ensure_indexes(projection.collections)
        self._reached[projection.name] = 0
        self._changed(None)
        head = await self._store.head_position() if until is None else until
        await self._catch_up(projection, head, exact=until is not None, progress=progress)

    async def wait_until(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until every projection reflects `position` (read-your-writes); False on timeout."""
        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(lambda: min(self._reached.values(), default=position) >= position)
        except TimeoutError:
            return False
        return True

    async def _catch_up(
        self, projection: Projection, head: int, *, exact: bool = False, progress: Callable[[int], None] | None = None
    ) -> None:
        position = await self._read_models.checkpoint(projection.name)
        while position < head:
            applied = await self._apply_next_batch(
                projection, position, until=head if exact else None, progress=progress
            )
            if applied is None:
                break
            position = applied
        await self._mark(projection.name, max(position, head))

    async def _follow(self) -> None:
        while not self._stopping:
            try:
                # The stored checkpoints; `positions` may run ahead of them over events of other
                # types, which need no commit. A batch commits from the stored checkpoint (moving
                # it past the skipped events too), or the store would refuse it as moved.
                stored = {p.name: await self._read_models.checkpoint(p.name) for p in self._projections}
                positions = dict(stored)
                # Checkpoints another runner moved cover events this one never saw: forget every copy.
                self._changed(None)
                for name, position in positions.items():
                    # After a reload the checkpoints may be another runner's progress: it counts here too.
                    await self._mark(name, position)
                while not self._stopping:
                    await self._follow_once(stored, positions)
            except asyncio.CancelledError:
                raise
            except CheckpointMoved as moved:
                # Another runner moved a checkpoint, or a write conflict hid whether it did.
                log.info("projection %s: checkpoint contended; reloading checkpoints", moved)
            except Unavailable as exc:
                log.warning("projections wait for the store: %s", exc)
                await asyncio.sleep(self._retry_delay)
            except Exception:
                # Skipping the event would corrupt a read model; retry until fixed.
                log.exception("projections failed; retrying")
                await asyncio.sleep(self._retry_delay)

    async def _follow_once(self, stored: dict[str, int], positions: dict[str, int]) -> None:
        """Apply the next batch of new events to every projection behind, or wait for some."""
        head, latest = await self._store.heads(self._types)
        self._head = max(self._head, head)
        behind = [p for p in self._projections if positions[p.name] < head]
        # Only projections with something new of their types need reading for.
        news = [p for p in behind if max(latest[t] for t in p.handles) > positions[p.name]]
        for projection in behind:
            if projection not in news:  # nothing of its types before `head`: it reflects `head`
                positions[projection.name] = head
                await self._mark(projection.name, head)
        if not news:
            await self._store.wait_for_append(head, self._poll_interval)
            return
        after = min(positions[p.name] for p in news)
        types = frozenset().union(*(p.handles for p in news))
        events = await self._store.read_all(after, EventFilter(types=types), self._batch_size)
        # A short page read everything of these types committed before it ran, so it reaches
        # `head` at least (and beyond it, if commits landed between the two reads).
        full = len(events) == self._batch_size
        end = events[-1].position if full else max([head, *(e.position for e in events[-1:])])
        batches: list[Batch] = []
        for projection in news:
            view = View(self._read_models)
            mine = [e for e in events if e.type in projection.handles and e.position > positions[projection.name]]
            await _apply(projection, mine, view)
            if mine:
                batches.append(Batch(projection.name, view.writes(), stored[projection.name], end))
        if batches:
            await self._read_models.commit_all(batches)
            self._changed(events)
        for projection in news:
            if any(b.projection == projection.name for b in batches):
                stored[projection.name] = end
            positions[projection.name] = end
            await self._mark(projection.name, end)

    async def _apply_next_batch(
        self,
        projection: Projection,
        after: int,
        checkpoint: int | None = None,
        *,
        until: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int | None:
        """Apply the next batch after `after` (up to `until`); return the new checkpoint, or None if none.

        `checkpoint` is the stored checkpoint (default `after`): only events of other types lie
        between the two.
        """
        events = await self._store.read_all(after, EventFilter(types=projection.handles), self._batch_size)
        if until is not None:
            events = [event for event in events if event.position <= until]
        if not events:
            return None
        if progress is not None:
            progress(len(events))
        view = View(self._read_models)
        await _apply(projection, events, view)
        position = events[-1].position
        previous = after if checkpoint is None else checkpoint
        await self._read_models.commit(projection.name, view.writes(), previous, position)
        self._changed(events)
        await self._mark(projection.name, position)
        return position

    async def _mark(self, name: str, position: int) -> None:
        async with self._progress:
            if position > self._reached[name]:
                self._reached[name] = position
                self._progress.notify_all()


async def _apply(projection: Projection, events: Sequence[RecordedEvent], view: View) -> None:
    """Apply a batch of events in order, prefetching what it reads when the projection can say."""
    if events and isinstance(projection, Prefetching):
        await projection.prefetch(events, view)
    for event in events:
        await projection.apply(event, view)
