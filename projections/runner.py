"""Runs projections: catch up from the checkpoint, follow the log live, rebuild on demand.

Each batch of events is applied to a View and committed together with the new checkpoint,
so a crash between batches neither loses nor repeats anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from billing_grpc.domain.errors import Unavailable
from billing_grpc.eventstore import EventFilter, EventStore
from projections.model import Projection, View
from projections.store import CheckpointMoved, ReadModelStore

log = logging.getLogger(__name__)


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
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def projections(self) -> list[Projection]:
        """The projections this runner keeps."""
        return list(self._projections)

    async def start(self) -> None:
        """Create indexes, then follow the log in the background, one task per projection."""
        for projection in self._projections:
            await self._read_models.ensure_indexes(projection.collections)
        self._tasks = [asyncio.create_task(self._follow(p), name=f"projection-{p.name}") for p in self._projections]

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
        for projection in self._projections:
            await self._catch_up(projection, head)
        return head

    async def rebuild(self, projection: Projection) -> None:
        """Drop a projection's read model and checkpoint and replay it from position 0."""
        await self._read_models.reset(projection.name, list(projection.collections))
        await self._read_models.ensure_indexes(projection.collections)
        self._reached[projection.name] = 0
        await self._catch_up(projection, await self._store.head_position())

    async def wait_until(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until every projection reflects `position` (read-your-writes); False on timeout."""
        try:
            async with asyncio.timeout(timeout), self._progress:
                await self._progress.wait_for(lambda: min(self._reached.values(), default=position) >= position)
        except TimeoutError:
            return False
        return True

    async def _catch_up(self, projection: Projection, head: int) -> None:
        position = await self._read_models.checkpoint(projection.name)
        while position < head:
            applied = await self._apply_next_batch(projection, position)
            if applied is None:
                break
            position = applied
        await self._mark(projection.name, max(position, head))

    async def _follow(self, projection: Projection) -> None:
        while not self._stopping:
            try:
                # `checkpoint` is what the store holds; `position` may run ahead of it over
                # events of other types, which need no commit. A batch commits from `checkpoint`
                # (moving it past the skipped events too), or the store would refuse it as moved.
                checkpoint = position = await self._read_models.checkpoint(projection.name)
                while not self._stopping:
                    head = await self._store.head_position()
                    # Nothing of ours since `position`: no need to read (and scan) the log.
                    if await self._store.latest_of(projection.handles) <= position:
                        position = max(position, head)
                        await self._mark(projection.name, position)
                        await self._store.wait_for_append(position, self._poll_interval)
                        continue
                    applied = await self._apply_next_batch(projection, position, checkpoint)
                    if applied is not None:
                        checkpoint = position = applied
                        continue
                    # Nothing left before `head` for this projection: it reflects `head`.
                    position = max(position, head)
                    await self._mark(projection.name, position)
                    await self._store.wait_for_append(position, self._poll_interval)
            except asyncio.CancelledError:
                raise
            except CheckpointMoved:
                # Another runner moved the checkpoint, or a write conflict hid whether it did.
                log.info("projection %s: checkpoint contended; reloading it", projection.name)
            except Unavailable as exc:
                log.warning("projection %s waits for the store: %s", projection.name, exc)
                await asyncio.sleep(self._retry_delay)
            except Exception:
                # Skipping the event would corrupt the read model; retry until fixed.
                log.exception("projection %s failed; retrying", projection.name)
                await asyncio.sleep(self._retry_delay)

    async def _apply_next_batch(self, projection: Projection, after: int, checkpoint: int | None = None) -> int | None:
        """Apply the next batch after `after`; return the new checkpoint, or None if none.

        `checkpoint` is the stored checkpoint (default `after`): only events of other types lie
        between the two.
        """
        events = await self._store.read_all(after, EventFilter(types=projection.handles), self._batch_size)
        if not events:
            return None
        view = View(self._read_models)
        for event in events:
            await projection.apply(event, view)
        position = events[-1].position
        previous = after if checkpoint is None else checkpoint
        await self._read_models.commit(projection.name, view.writes(), previous, position)
        await self._mark(projection.name, position)
        return position

    async def _mark(self, name: str, position: int) -> None:
        async with self._progress:
            if position > self._reached[name]:
                self._reached[name] = position
                self._progress.notify_all()
