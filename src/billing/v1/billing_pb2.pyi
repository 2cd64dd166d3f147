import datetime

from billing.v1 import usage_pb2 as _usage_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetClockRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetClockResponse(_message.Message):
    __slots__ = ("now", "test_clock")
    NOW_FIELD_NUMBER: _ClassVar[int]
    TEST_CLOCK_FIELD_NUMBER: _ClassVar[int]
    now: _timestamp_pb2.Timestamp
    test_clock: bool
    def __init__(self, now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., test_clock: _Optional[bool] = ...) -> None: ...

class CycleReport(_message.Message):
    __slots__ = ("periods_closed", "invoices_finalized", "payments_attempted", "failures")
    PERIODS_CLOSED_FIELD_NUMBER: _ClassVar[int]
    INVOICES_FINALIZED_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_ATTEMPTED_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    periods_closed: int
    invoices_finalized: int
    payments_attempted: int
    failures: int
    def __init__(self, periods_closed: _Optional[int] = ..., invoices_finalized: _Optional[int] = ..., payments_attempted: _Optional[int] = ..., failures: _Optional[int] = ...) -> None: ...

class RunBillingCycleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunBillingCycleResponse(_message.Message):
    __slots__ = ("report", "now")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    report: CycleReport
    now: _timestamp_pb2.Timestamp
    def __init__(self, report: _Optional[_Union[CycleReport, _Mapping]] = ..., now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AdvanceClockRequest(_message.Message):
    __slots__ = ("to", "by_seconds")
    TO_FIELD_NUMBER: _ClassVar[int]
    BY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    to: _timestamp_pb2.Timestamp
    by_seconds: int
    def __init__(self, to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., by_seconds: _Optional[int] = ...) -> None: ...

class AdvanceClockResponse(_message.Message):
    __slots__ = ("now", "report")
    NOW_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    now: _timestamp_pb2.Timestamp
    report: CycleReport
    def __init__(self, now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., report: _Optional[_Union[CycleReport, _Mapping]] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("invoice_id", "organization_id", "subscription_id", "plan_id", "number", "status", "reason", "currency", "lines", "total_minor", "amount_due_minor", "amount_paid_minor", "usage_period_start", "usage_period_end", "issued_at", "finalize_at", "finalized_at", "paid_at", "next_attempt_at", "attempts", "failures", "last_failure_code", "credit_applied_minor", "amount_remaining_minor")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MINOR_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_MINOR_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    USAGE_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    USAGE_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    FINALIZE_AT_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_AT_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    CREDIT_APPLIED_MINOR_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_REMAINING_MINOR_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    organization_id: str
    subscription_id: str
    plan_id: str
    number: str
    status: str
    reason: str
    currency: str
    lines: _containers.RepeatedCompositeFieldContainer[_usage_pb2.InvoiceLine]
    total_minor: int
    amount_due_minor: int
    amount_paid_minor: int
    usage_period_start: _timestamp_pb2.Timestamp
    usage_period_end: _timestamp_pb2.Timestamp
    issued_at: _timestamp_pb2.Timestamp
    finalize_at: _timestamp_pb2.Timestamp
    finalized_at: _timestamp_pb2.Timestamp
    paid_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    attempts: int
    failures: int
    last_failure_code: str
    credit_applied_minor: int
    amount_remaining_minor: int
    def __init__(self, invoice_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., number: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., currency: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[_usage_pb2.InvoiceLine, _Mapping]]] = ..., total_minor: _Optional[int] = ..., amount_due_minor: _Optional[int] = ..., amount_paid_minor: _Optional[int] = ..., usage_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., usage_period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalize_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalized_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., failures: _Optional[int] = ..., last_failure_code: _Optional[str] = ..., credit_applied_minor: _Optional[int] = ..., amount_remaining_minor: _Optional[int] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("invoice_id",)
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class GetInvoiceResponse(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("organization_id", "subscription_id", "status", "issued_from", "issued_before", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_FROM_FIELD_NUMBER: _ClassVar[int]
    ISSUED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    subscription_id: str
    status: str
    issued_from: _timestamp_pb2.Timestamp
    issued_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., status: _Optional[str] = ..., issued_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., issued_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices", "next_page_token")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_page_token: str
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VoidInvoiceRequest(_message.Message):
    __slots__ = ("invoice_id",)
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class VoidInvoiceResponse(_message.Message):
    __slots__ = ("invoice",)
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("organization_id",)
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    def __init__(self, organization_id: _Optional[str] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("currency", "invoiced_minor", "paid_minor", "outstanding_minor", "uncollectible_minor", "voided_minor", "credit_minor", "credit_applied_minor")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    INVOICED_MINOR_FIELD_NUMBER: _ClassVar[int]
    PAID_MINOR_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_MINOR_FIELD_NUMBER: _ClassVar[int]
    UNCOLLECTIBLE_MINOR_FIELD_NUMBER: _ClassVar[int]
    VOIDED_MINOR_FIELD_NUMBER: _ClassVar[int]
    CREDIT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CREDIT_APPLIED_MINOR_FIELD_NUMBER: _ClassVar[int]
    currency: str
    invoiced_minor: int
    paid_minor: int
    outstanding_minor: int
    uncollectible_minor: int
    voided_minor: int
    credit_minor: int
    credit_applied_minor: int
    def __init__(self, currency: _Optional[str] = ..., invoiced_minor: _Optional[int] = ..., paid_minor: _Optional[int] = ..., outstanding_minor: _Optional[int] = ..., uncollectible_minor: _Optional[int] = ..., voided_minor: _Optional[int] = ..., credit_minor: _Optional[int] = ..., credit_applied_minor: _Optional[int] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("organization_id", "balances")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    def __init__(self, organization_id: _Optional[str] = ..., balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ...) -> None: ...

class ListPaymentsRequest(_message.Message):
    __slots__ = ("organization_id", "invoice_id", "page_size", "page_token")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    invoice_id: str
    page_size: int
    page_token: str
    def __init__(self, organization_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("payment_id", "invoice_id", "organization_id", "attempt", "idempotency_key", "amount_minor", "currency", "payment_method", "status", "charge_id", "failure_code", "message", "started_at", "resolved_at")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    invoice_id: str
    organization_id: str
    attempt: int
    idempotency_key: str
    amount_minor: int
    currency: str
    payment_method: str
    status: str
    charge_id: str
    failure_code: str
    message: str
    started_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., attempt: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., amount_minor: _Optional[int] = ..., currency: _Optional[str] = ..., payment_method: _Optional[str] = ..., status: _Optional[str] = ..., charge_id: _Optional[str] = ..., failure_code: _Optional[str] = ..., message: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPaymentsResponse(_message.Message):
    __slots__ = ("payments", "next_page_token")
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    next_page_token: str
    def __init__(self, payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GrantCreditRequest(_message.Message):
    __slots__ = ("organization_id", "amount_minor", "description")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    amount_minor: int
    description: str
    def __init__(self, organization_id: _Optional[str] = ..., amount_minor: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class GrantCreditResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...
