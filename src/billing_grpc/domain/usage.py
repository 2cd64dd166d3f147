"""Usage metering: judging each incoming usage event, and the fact that accepted ones were recorded.

Each event is judged on its own: accepted (and assigned to the subscription period its timestamp
falls in), or rejected with a stable reason. Duplicates are not judged here: an idempotency key
is counted once, ever, by the event store's claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

from billing_grpc.domain import periods
from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.meter import Aggregation, Meter, allows_negative
from billing_grpc.domain.money import format_decimal, parse_decimal
from billing_grpc.domain.periods import Interval, Period

# Usage may arrive a little ahead of our clock (emitters' clocks drift), not more.
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_KEY_LENGTH = 256
MAX_PROPERTIES = 32
MAX_PROPERTY_LENGTH = 256


class RejectReason(StrEnum):
    """Why a usage event was not accepted. Stable: emitters branch on these."""

    MISSING_IDEMPOTENCY_KEY = "missing_idempotency_key"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    UNKNOWN_ORGANIZATION = "unknown_organization"
    UNKNOWN_METER = "unknown_meter"
    NO_ACTIVE_SUBSCRIPTION = "no_active_subscription"
    INVALID_QUANTITY = "invalid_quantity"
    NEGATIVE_QUANTITY = "negative_quantity_not_allowed"
    MISSING_TIMESTAMP = "missing_timestamp"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    PERIOD_CLOSED = "period_closed"
    INVALID_PROPERTIES = "invalid_properties"


@dataclass(frozen=True)
class Rejection:
    """A usage event that was refused, and why."""

    reason: RejectReason
    message: str


# Usage timestamps are stored as whole microseconds since this instant (exact, compact, cheap).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UsageInput(NamedTuple):
    """One usage event as an emitter sent it; the organization is named by id or external id.

    A named tuple, not a dataclass: ingestion builds one per event and the difference shows.
    """

    organization_id: str
    meter_code: str
    quantity: str
    timestamp: datetime | None
    idempotency_key: str
    properties: Mapping[str, str]
    external_id: str = ""


class UsageRecord(NamedTuple):
    """An accepted usage event as it is stored; the first four fields name its series."""

    subscription_id: str
    meter_code: str
    period_start: str
    period_end: str
    idempotency_key: str
    quantity: str  # canonical decimal
    timestamp: int  # microseconds since EPOCH
    properties: Mapping[str, str]
    unique_value: str | None  # the counted property of a unique_count meter
    # A charge prices this meter per transaction (see `LiveSubscription.per_transaction_meters`).
    per_transaction: bool = False


@dataclass(frozen=True)
class LiveSubscription:
    """What ingestion needs to know of one live subscription."""

    subscription_id: str
    meter_codes: frozenset[str]
    started_at: datetime
    trial_end: datetime | None
    cycle_anchor: datetime
    interval: Interval
    # Usage before this moment belongs to a period that is invoiced already.
    open_from: datetime
    # A scheduled or effective end; usage at or after it belongs to no period of this subscription.
    ends_at: datetime | None
    # The subscription stream's version this view was built from: usage is appended expecting it,
    # so a period closed or sealed meanwhile makes the append fail and the usage be judged again.
    stream_version: int = 0
    # Plan changes (issue #7): usage segments whose bounds the cycle cannot tell (periods before
    # a change or a cycle restart, until sealed), and where the current plan's segment starts.
    boundaries: tuple[Period, ...] = ()
    segment_start: datetime | None = None
    # The current period as the subscription holds it: a stub after an anchor change, a resume
    # or an aligned plan change starts where the cycle alone cannot tell.
    current: Period | None = None
    # Pauses since the last seal: no usage belongs to the subscription then.
    pauses: tuple[Period, ...] = ()
    # Meters that a plan the subscription has been on, or is scheduled to move to, prices per
    # transaction: their events are kept one by one for pricing (projections.usage), and a
    # negative quantity, which would be a negative transaction, is refused.
    per_transaction_meters: frozenset[str] = frozenset()
    # The last period asked for: nearly all usage falls in the current period, and calendar math
    # per event would dominate ingestion.
    _recent: list[Period] = field(default_factory=list, compare=False, repr=False)

    def period_at(self, moment: datetime) -> Period:
        """The period of this subscription that contains `moment` (at or after its start)."""
        if self._recent and self._recent[0].start <= moment < self._recent[0].end:
            return self._recent[0]
        period = self._period_at(moment)
        self._recent[:] = [period]
        return period

    def _period_at(self, moment: datetime) -> Period:
        for known in self.boundaries:  # plan changes (issue #7)
            if known.start <= moment < known.end:
                return known
        current = self.current
        period = current if current is not None and current.contains(moment) else self._cycle_period_at(moment)
        if self.segment_start is not None and period.start < self.segment_start <= moment < period.end:
            return Period(self.segment_start, period.end)  # the current plan's part of the period
        return period

    def serves(self, moment: datetime) -> bool:
        """Whether the subscription takes usage at `moment`: from its start, before its end, not while paused."""
        if moment < self.started_at or (self.ends_at is not None and moment >= self.ends_at):
            return False
        return not any(pause.start <= moment < pause.end for pause in self.pauses)

    def _cycle_period_at(self, moment: datetime) -> Period:
        if self.trial_end is not None and moment < self.trial_end:
            return Period(self.started_at, self.trial_end)
        paid_start = self.trial_end or self.started_at
        if moment < self.cycle_anchor:  # the stub before a billing anchor
            return Period(paid_start, self.cycle_anchor)
        return periods.period_containing(self.cycle_anchor, self.interval, moment)


class UsageRecorded(DomainEvent):
    """Usage events of one organization were accepted (one fact per ingested batch).

    Version 2 stores the events as columns, one `series` per (subscription, meter, period):
    `subscription_id`, `meter_code`, `period_start`, `period_end` (fixed-width UTC stamps), then
    one entry per event, in the order they arrived, in `idempotency_keys`, `quantities`
    (canonical decimal strings) and `timestamps` (microseconds since the Unix epoch, UTC);
    `properties` lists `[index, {name: value}]` for the events that carried any, and
    `unique_values` (unique_count meters only) the counted property of every event;
    `per_transaction: true` (absent: false, as in every series recorded before it existed) marks
    a meter that a plan of the subscription prices per transaction. Columns
    keep a batch of thousands cheap to encode, store and fold; version 1 (a list of `records`,
    one object per event) is upcast by `series_from_records`.
    """

    TYPE: ClassVar[str] = "usage.recorded"
    VERSION: ClassVar[int] = 2

    organization_id: str
    series: list[dict[str, Any]]

    @classmethod
    def of(cls, organization_id: str, records: Iterable[UsageRecord]) -> UsageRecorded:
        """The fact that these records of one organization were accepted, as series."""
        grouped: dict[tuple[str, ...], list[UsageRecord]] = {}
        for record in records:
            grouped.setdefault(record[:4], []).append(record)
        return cls.model_construct(organization_id=organization_id, series=[_series(g) for g in grouped.values()])

    def payload(self) -> dict[str, Any]:
        """The payload as stored; the series are plain JSON values already, so no copy is made."""
        return {"organization_id": self.organization_id, "series": self.series}


def _series(records: list[UsageRecord]) -> dict[str, Any]:
    first = records[0]
    series: dict[str, Any] = {
        "subscription_id": first.subscription_id,
        "meter_code": first.meter_code,
        "period_start": first.period_start,
        "period_end": first.period_end,
        "idempotency_keys": [r.idempotency_key for r in records],
        "quantities": [r.quantity for r in records],
        "timestamps": [r.timestamp for r in records],
        "properties": [[i, dict(r.properties)] for i, r in enumerate(records) if r.properties],
    }
    if first.unique_value is not None:
        series["unique_values"] = [r.unique_value for r in records]
    if first.per_transaction:
        series["per_transaction"] = True
    return series


def series_from_records(payload: dict[str, Any]) -> dict[str, Any]:
    """Upcast a version 1 `usage.recorded` payload (one object per event) to version 2 (series)."""
    records = [
        UsageRecord(
            r["subscription_id"],
            r["meter_code"],
            r["period_start"],
            r["period_end"],
            r["idempotency_key"],
            r["quantity"],
            micros(datetime.fromisoformat(r["timestamp"])),
            r.get("properties") or {},
            r.get("unique_value"),
        )
        for r in payload["records"]
    ]
    return UsageRecorded.of(payload["organization_id"], records).payload()


def micros(moment: datetime) -> int:
    """Whole microseconds since EPOCH (how usage timestamps are stored)."""
    return (moment - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The UTC instant `value` microseconds after EPOCH."""
    return EPOCH + timedelta(microseconds=value)


def judge(
    usage: UsageInput, meter: Meter | None, subscriptions: Sequence[LiveSubscription], now: datetime
) -> UsageRecord | Rejection:
    """The record to store for an acceptable usage event, or why it is refused."""
    key = usage.idempotency_key
    if not key:
        return Rejection(RejectReason.MISSING_IDEMPOTENCY_KEY, "every usage event needs an idempotency key")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return Rejection(RejectReason.INVALID_IDEMPOTENCY_KEY, f"at most {MAX_KEY_LENGTH} printable characters")
    if meter is None:
        return Rejection(RejectReason.UNKNOWN_METER, f"no meter {usage.meter_code!r}")
    quantity = _quantity(usage.quantity, meter)
    if isinstance(quantity, Rejection):
        return quantity
    if (usage.properties or meter.aggregation is Aggregation.UNIQUE_COUNT) and (
        problem := _properties_problem(usage.properties, meter)
    ):
        return Rejection(RejectReason.INVALID_PROPERTIES, problem)
    timestamp = usage.timestamp
    if timestamp is None:
        return Rejection(RejectReason.MISSING_TIMESTAMP, "every usage event needs a timestamp")
    if timestamp > now + MAX_FUTURE_SKEW:
        return Rejection(RejectReason.TIMESTAMP_IN_FUTURE, "timestamps may be at most 5 minutes ahead")
    # At most one live subscription charges a meter at a time; a loop, not comprehensions:
    # this runs for every event.
    for subscription in subscriptions:
        if usage.meter_code in subscription.meter_codes and subscription.serves(timestamp):
            break
    else:
        return Rejection(
            RejectReason.NO_ACTIVE_SUBSCRIPTION,
            f"no live subscription of the organization charges {usage.meter_code!r} at that time",
        )
    if timestamp < subscription.open_from:
        return Rejection(RejectReason.PERIOD_CLOSED, "that period is invoiced already")
    per_transaction = usage.meter_code in subscription.per_transaction_meters
    if per_transaction and quantity[0] == "-":  # canonical: a negative quantity starts with "-"
        return Rejection(RejectReason.NEGATIVE_QUANTITY, "a charge priced per transaction takes no negative amounts")
    period_start, period_end = _period_stamps(subscription.period_at(timestamp))
    return UsageRecord(
        subscription.subscription_id,
        usage.meter_code,
        period_start,
        period_end,
        key,
        quantity,
        (timestamp - EPOCH) // _MICROSECOND,
        usage.properties,
        usage.properties[meter.property] if meter.aggregation is Aggregation.UNIQUE_COUNT else None,
        per_transaction,
    )


def stamp(moment: datetime) -> str:
    """A fixed-width UTC timestamp (microseconds always shown), so stored stamps order as text."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


@lru_cache(maxsize=1024)
def _period_stamps(period: Period) -> tuple[str, str]:
    return stamp(period.start), stamp(period.end)


@lru_cache(maxsize=4096)
def _canonical(text: str) -> tuple[str, bool] | Rejection:
    """The canonical form of a quantity and whether it is negative; emitters repeat a few values."""
    try:
        value = parse_decimal(text, "quantity")  # the same strict rule as every decimal of the API
    except InvalidArgument as error:
        return Rejection(RejectReason.INVALID_QUANTITY, f"quantity {error.violations[0].description}")
    return format_decimal(value), value < 0


def _quantity(text: str, meter: Meter) -> str | Rejection:
    if meter.aggregation is Aggregation.COUNT and not text:
        return "1"  # a count meter counts events; a quantity is optional
    canonical = _canonical(text)
    if isinstance(canonical, Rejection):
        return canonical
    if canonical[1] and not allows_negative(meter.aggregation):
        return Rejection(RejectReason.NEGATIVE_QUANTITY, f"a {meter.aggregation} meter takes no negative quantity")
    return canonical[0]


def _properties_problem(properties: Mapping[str, str], meter: Meter) -> str | None:
    if len(properties) > MAX_PROPERTIES:
        return f"at most {MAX_PROPERTIES} properties"
    if any(len(k) > MAX_PROPERTY_LENGTH or len(v) > MAX_PROPERTY_LENGTH for k, v in properties.items()):
        return f"property names and values are at most {MAX_PROPERTY_LENGTH} characters"
    if meter.aggregation is Aggregation.UNIQUE_COUNT and not properties.get(meter.property):
        return f"a {meter.code!r} event needs the property {meter.property!r}"
    return None
