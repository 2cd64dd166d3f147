"""Replay verification: rebuild every projection into scratch read models and compare them with
the live ones document by document; check the hash chain of the log.

Live read models keep moving while a server runs. Each projection is therefore compared at
its own live checkpoint: the live documents are read between two reads of the checkpoint
(equal reads mean no batch committed meanwhile: every commit moves the checkpoint with its
writes), and the scratch copy is rebuilt from position 0 exactly up to that checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from billing_grpc.audit.checksums import document_checksum
from billing_grpc.eventstore import EventStore
from billing_grpc.eventstore.chain import ChainReport, verify_chain
from projections.model import Document, Projection, ReadModelReader
from projections.runner import ProjectionRunner
from projections.store import ReadModelStore

# How many differences per projection a report keeps in full (all are counted).
KEPT_DIFFERENCES = 20
# How often a live read model may move under a snapshot before the verification gives up on it.
SNAPSHOT_ATTEMPTS = 5

Progress = Callable[[str, int], None]
"""Told (phase, events just processed) as the verification goes."""


@dataclass(frozen=True)
class Difference:
    """One document that is not the same in the live read model and the rebuilt one.

    `kind` is `missing` (the rebuild has it, the live model not), `extra` (only the live model
    has it) or `differs` (both, with other content).
    """

    collection: str
    key: str
    kind: str
    live_checksum: str = ""
    rebuilt_checksum: str = ""


@dataclass(frozen=True)
class ProjectionCheck:
    """One projection's comparison, at the live checkpoint `position`."""

    projection: str
    position: int
    documents: int
    difference_count: int
    differences: list[Difference] = field(default_factory=list)
    error: str = ""

    @property
    def matches(self) -> bool:
        """True if the live and rebuilt read models are identical."""
        return self.difference_count == 0 and not self.error


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of one verification run."""

    chain: ChainReport
    projections: list[ProjectionCheck]
    events_replayed: int
    seconds: float

    @property
    def ok(self) -> bool:
        """True if the chain is intact and every projection matches."""
        return self.chain.intact and all(check.matches for check in self.projections)


async def verify(
    store: EventStore,
    live: ReadModelStore,
    scratch: ReadModelStore,
    projections: Sequence[Projection],
    *,
    progress: Progress | None = None,
) -> VerificationReport:
    """Check the chain, then rebuild each projection into `scratch` and compare it with `live`."""
    started = time.monotonic()
    replayed = 0

    def count(phase: str) -> Callable[[int], None]:
        def tell(events: int) -> None:
            nonlocal replayed
            if phase != "chain":
                replayed += events
            if progress is not None:
                progress(phase, events)

        return tell

    chain = await verify_chain(store, progress=count("chain"))
    runner = ProjectionRunner(store, scratch, projections)
    checks = []
    for projection in projections:
        checks.append(await _check(projection, store, live, scratch, runner, count(projection.name)))
    return VerificationReport(chain, checks, replayed, time.monotonic() - started)


async def _check(
    projection: Projection,
    store: EventStore,
    live: ReadModelStore,
    scratch: ReadModelStore,
    runner: ProjectionRunner,
    progress: Callable[[int], None],
) -> ProjectionCheck:
    collections = sorted(projection.collections)
    for _ in range(SNAPSHOT_ATTEMPTS):
        position = await live.checkpoint(projection.name)
        live_documents = await dump(live, collections)
        if await live.checkpoint(projection.name) == position:
            break
    else:
        return ProjectionCheck(projection.name, position, 0, 0, error="the live read model kept moving")
    await runner.rebuild(projection, until=position, progress=progress)
    rebuilt = await dump(scratch, collections)
    differences = compare(live_documents, rebuilt)
    documents = sum(len(docs) for docs in rebuilt.values())
    return ProjectionCheck(projection.name, position, documents, len(differences), differences[:KEPT_DIFFERENCES])


async def dump(read_models: ReadModelReader, collections: Sequence[str]) -> dict[str, dict[str, Document]]:
    """Every document of these collections, by collection and key."""
    return {
        name: {str(doc["_id"]): doc for doc in await read_models.find(name, {}, sort=[("_id", 1)])}
        for name in collections
    }


def compare(
    live: Mapping[str, Mapping[str, Document]], rebuilt: Mapping[str, Mapping[str, Document]]
) -> list[Difference]:
    """Every document that differs between two dumps, by checksum, in collection and key order."""
    differences: list[Difference] = []
    for collection in sorted(set(live) | set(rebuilt)):
        mine, theirs = live.get(collection, {}), rebuilt.get(collection, {})
        for key in sorted(set(mine) | set(theirs)):
            live_sum = document_checksum(mine[key]) if key in mine else ""
            rebuilt_sum = document_checksum(theirs[key]) if key in theirs else ""
            if live_sum == rebuilt_sum:
                continue
            kind = "missing" if not live_sum else "extra" if not rebuilt_sum else "differs"
            differences.append(Difference(collection, key, kind, live_sum, rebuilt_sum))
    return differences
