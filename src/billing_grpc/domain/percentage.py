"""Percentage charges priced transaction by transaction, Lago's rule (docs/billing-rules/percentage-charges.md).

Each usage event of the period is one transaction, taken in time order. While the free
allowance lasts (the first `free_transactions` transactions, or the first `free_amount` of
amount, whichever is used up first) a transaction costs nothing; the transaction inside which
the free amount runs out pays the rate on its remainder and the whole fixed fee. Every other
transaction costs `rate * amount + fixed_fee`, raised to the minimum and capped at the maximum
per transaction. Exact Decimal arithmetic: the caller runs it in an exact context and rounds the
charge's total once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

_ZERO = Decimal(0)


@dataclass(frozen=True)
class TransactionTerms:
    """What one transaction costs; zero `free_transactions` / `free_amount` mean none (as in Lago)."""

    rate: Decimal  # a fraction: 2% is 0.02
    fixed_fee: Decimal
    free_transactions: int
    free_amount: Decimal
    minimum: Decimal | None
    maximum: Decimal | None


@dataclass(frozen=True)
class TransactionPricing:
    """The period's transactions priced: how many were free, paid, raised and capped, and the total.

    amount == paid_amount * rate + paid_transactions * fixed_fee + raised_by - capped_by, exactly.
    """

    free_transactions: int  # wholly free
    free_amount: Decimal  # amount the rate did not apply to (including the straddling part)
    straddled: Decimal  # the free part of the transaction the free amount ran out in (0: none)
    paid_transactions: int
    paid_amount: Decimal
    raised: int  # transactions raised to the minimum
    raised_by: Decimal
    capped: int  # transactions capped at the maximum
    capped_by: Decimal
    amount: Decimal


def price_transactions(terms: TransactionTerms, amounts: Iterable[Decimal]) -> TransactionPricing:
    """Price the period's transaction amounts, given in time order (non-negative)."""
    free_left = terms.free_transactions
    amount_left = terms.free_amount
    # The free allowance applies only if one was given, and ends when either part is used up.
    in_free = free_left > 0 or amount_left > 0
    free_count, free_amount, straddled = 0, _ZERO, _ZERO
    paid, paid_amount, raised, raised_by, capped, capped_by, total = 0, _ZERO, 0, _ZERO, 0, _ZERO, _ZERO
    for value in amounts:
        if in_free:
            if terms.free_amount == 0 or amount_left > value:
                # Wholly free: Lago's "remaining_free_amount > value" (strict: an event that
                # uses the free amount up exactly is the straddling one, and pays the fixed fee).
                free_count += 1
                free_amount += value
                amount_left -= value if terms.free_amount else _ZERO
                free_left -= 1
                in_free = (terms.free_transactions == 0 or free_left > 0) and (
                    terms.free_amount == 0 or amount_left > 0
                )
                continue
            # The free amount runs out inside this transaction: its remainder is paid.
            straddled, value = amount_left, value - amount_left
            free_amount += straddled
            in_free = False
        cost = value * terms.rate + terms.fixed_fee
        paid += 1
        paid_amount += value
        if terms.minimum is not None and cost < terms.minimum:
            raised, raised_by, cost = raised + 1, raised_by + (terms.minimum - cost), terms.minimum
        elif terms.maximum is not None and cost > terms.maximum:
            capped, capped_by, cost = capped + 1, capped_by + (cost - terms.maximum), terms.maximum
        total += cost
    return TransactionPricing(
        free_count, free_amount, straddled, paid, paid_amount, raised, raised_by, capped, capped_by, total
    )
