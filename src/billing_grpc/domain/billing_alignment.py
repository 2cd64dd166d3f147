"""Billing alignment on plan changes: keep the billing-cycle day, or restart the cycle at the change.

The billing-cycle day is the cycle anchor's day of month and time of day (the 1st at 00:00, the
31st at 09:00 ...). A plan change chooses (Stripe's `billing_cycle_anchor`):

- `unchanged` (Kill Bill's billing alignment): the cycle day is kept. A change now to another
  interval ends the current period at the change (its invoice bills the usage in arrears and
  credits the old fee's unused part, as a restart does) and the new plan's first period is the
  stub from the change to the next cycle day, billed as its share of the new plan's whole period
  ending there (`periods.whole_period`: [May 1 last year, May 1) for an annual plan whose next
  cycle day is May 1); full periods of the new interval follow, from that cycle day. A change on
  a cycle day has no stub: its first period is a full one. With the same interval nothing moves:
  the period is split into usage segments and the fee prorated (`proration.change_lines`).
  At period end the period end is a cycle day already: the new interval's periods start there.
- `now`: the cycle restarts at the change, on any interval: the period ends at the change and
  the new plan's first period `[change, change + interval)` is billed in full (Stripe's
  `billing_cycle_anchor=now`, and what an interval change always did before alignment existed).

The default (no choice in the request) keeps what callers saw before: `now` for an interval
change made now, `unchanged` for everything else. Refused (INVALID_ARGUMENT, field
`billing_cycle_anchor`, reason `invalid_billing_cycle_anchor`): an unknown value; `now` at period
end (the change happens on a cycle day by definition); `now` during a trial (the trial's end
starts the paid cycle, and a trial is not restarted by a plan change).

A cycle day on the 29th-31st is clamped in shorter months (Jan 31 -> Feb 28 -> Mar 31), and
periods are computed from the anchor, so the anchor must carry the unclamped day: when the next
cycle day is clamped (Apr 30 of a cycle on the 31st), the new cycle is anchored on its latest
boundary at or before it that is not (Jan 31 for a quarterly cycle through Apr 30), so later
periods keep the 31st (Jul 31, Oct 31).
"""

from __future__ import annotations

from datetime import datetime

from billing_grpc.domain import periods
from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.cycle_changes import CycleAnchor
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.periods import Interval, Period, add_months

FIELD = "billing_cycle_anchor"
REASON = "invalid_billing_cycle_anchor"
# (month of year, leap year) repeats every 48 months, so 48 steps back find an unclamped
# boundary if one exists: a cycle that can only meet clamped days (every Feb 28 of odd years)
# keeps its clamped day for good.
_SEARCH_STEPS = 48


def parse_cycle_anchor(text: str) -> CycleAnchor | None:
    """The alignment a request names (empty: None, the default decided by `resolve`)."""
    if not text:
        return None
    try:
        return CycleAnchor(text)
    except ValueError:
        allowed = ", ".join(CycleAnchor)
        raise InvalidArgument.of(FieldViolation(FIELD, f"must be one of {allowed} or empty"), reason=REASON) from None


def resolve(
    requested: CycleAnchor | None, interval_changes: bool, at_period_end: bool, trialing: bool
) -> CycleAnchor:
    """The alignment a change gets: the requested one if it can be honoured, else the default (None).

    Default: `now` for an interval change now (outside a trial), `unchanged` otherwise.
    """
    if requested is CycleAnchor.NOW and at_period_end:
        raise _refused("cannot be now with at_period_end: the change happens on the next cycle day")
    if requested is CycleAnchor.NOW and trialing:
        raise _refused("cannot be now during a trial: the paid cycle starts when the trial ends")
    if requested is not None:
        return requested
    restart = interval_changes and not at_period_end and not trialing
    return CycleAnchor.NOW if restart else CycleAnchor.UNCHANGED


def next_cycle_day(anchor: datetime, moment: datetime) -> tuple[datetime, int]:
    """The first moment at or after `moment` on the anchor's day of month and time of day, and its month offset."""
    anchor, moment = ensure_utc(anchor), ensure_utc(moment)
    offset = (moment.year - anchor.year) * 12 + moment.month - anchor.month
    # add_months(anchor, offset) is in the moment's calendar month: offset - 1 is before the
    # moment, offset + 1 after it.
    day = add_months(anchor, offset)
    if day < moment:
        offset += 1
        day = add_months(anchor, offset)
    return day, offset


def aligned_anchor(anchor: datetime, offset: int, interval: Interval) -> datetime:
    """The anchor of a cycle of `interval` through `add_months(anchor, offset)` that keeps the anchor's day.

    The latest boundary at or before it whose day is the anchor's (not clamped by a short month);
    when every boundary of the cycle is clamped (an annual cycle in February on the 30th), the
    latest of the least clamped ones (a Feb 29), so leap years still get their 29th.
    """
    anchor = ensure_utc(anchor)
    best = add_months(anchor, offset)
    for step in range(_SEARCH_STEPS):
        candidate = add_months(anchor, offset - step * interval.months)
        if candidate.day == anchor.day:
            return candidate
        if candidate.day > best.day:
            best = candidate
    return best


def aligned_period(cycle_anchor: datetime, interval: Interval, at: datetime) -> tuple[Period, datetime]:
    """The first period of `interval` from `at` that keeps `cycle_anchor`'s cycle day, and the new cycle anchor.

    A stub [at, next cycle day) when `at` is not a cycle day, else the full period from `at`.
    """
    day, offset = next_cycle_day(cycle_anchor, at)
    anchor = aligned_anchor(cycle_anchor, offset, interval)
    if day > ensure_utc(at):
        return Period(at, day), anchor
    return periods.period_containing(anchor, interval, at), anchor


def restarted(interval: Interval, at: datetime) -> tuple[Period, datetime]:
    """The first period of a cycle of `interval` restarted at `at`, and its anchor (`at`)."""
    return Period(at, add_months(at, interval.months)), ensure_utc(at)


def first_period(
    alignment: CycleAnchor, cycle_anchor: datetime, interval: Interval, at: datetime
) -> tuple[Period, datetime]:
    """The first period on the new plan when the current one ends at `at`, and the cycle anchor after it."""
    if alignment is CycleAnchor.NOW:
        return restarted(interval, at)
    return aligned_period(cycle_anchor, interval, at)


def _refused(description: str) -> InvalidArgument:
    return InvalidArgument.of(FieldViolation(FIELD, description), reason=REASON)
