import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageEvent(_message.Message):
    __slots__ = ("organization_id", "external_id", "meter_code", "quantity", "timestamp", "idempotency_key", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    external_id: str
    meter_code: str
    quantity: str
    timestamp: _timestamp_pb2.Timestamp
    idempotency_key: str
    properties: _containers.ScalarMap[str, str]
    def __init__(self, organization_id: _Optional[str] = ..., external_id: _Optional[str] = ..., meter_code: _Optional[str] = ..., quantity: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UsageResult(_message.Message):
    __slots__ = ("outcome", "reason", "message")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[UsageResult.Outcome]
        OUTCOME_ACCEPTED: _ClassVar[UsageResult.Outcome]
        OUTCOME_DUPLICATE: _ClassVar[UsageResult.Outcome]
        OUTCOME_REJECTED: _ClassVar[UsageResult.Outcome]
    OUTCOME_UNSPECIFIED: UsageResult.Outcome
    OUTCOME_ACCEPTED: UsageResult.Outcome
    OUTCOME_DUPLICATE: UsageResult.Outcome
    OUTCOME_REJECTED: UsageResult.Outcome
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    outcome: UsageResult.Outcome
    reason: str
    message: str
    def __init__(self, outcome: _Optional[_Union[UsageResult.Outcome, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UsageEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[UsageEvent, _Mapping]]] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("results", "accepted", "duplicates", "rejected")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[UsageResult]
    accepted: int
    duplicates: int
    rejected: int
    def __init__(self, results: _Optional[_Iterable[_Union[UsageResult, _Mapping]]] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...

class StreamUsageRequest(_message.Message):
    __slots__ = ("batch_id", "events")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    events: _containers.RepeatedCompositeFieldContainer[UsageEvent]
    def __init__(self, batch_id: _Optional[int] = ..., events: _Optional[_Iterable[_Union[UsageEvent, _Mapping]]] = ...) -> None: ...

class StreamUsageResponse(_message.Message):
    __slots__ = ("batch_id", "results", "accepted", "duplicates", "rejected")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    results: _containers.RepeatedCompositeFieldContainer[UsageResult]
    accepted: int
    duplicates: int
    rejected: int
    def __init__(self, batch_id: _Optional[int] = ..., results: _Optional[_Iterable[_Union[UsageResult, _Mapping]]] = ..., accepted: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...

class GetUsageSummaryRequest(_message.Message):
    __slots__ = ("subscription_id", "at")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, subscription_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MeterUsage(_message.Message):
    __slots__ = ("meter_code", "aggregation", "quantity", "event_count")
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    meter_code: str
    aggregation: str
    quantity: str
    event_count: int
    def __init__(self, meter_code: _Optional[str] = ..., aggregation: _Optional[str] = ..., quantity: _Optional[str] = ..., event_count: _Optional[int] = ...) -> None: ...

class GetUsageSummaryResponse(_message.Message):
    __slots__ = ("period_start", "period_end", "meters")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    METERS_FIELD_NUMBER: _ClassVar[int]
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    meters: _containers.RepeatedCompositeFieldContainer[MeterUsage]
    def __init__(self, period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., meters: _Optional[_Iterable[_Union[MeterUsage, _Mapping]]] = ...) -> None: ...

class PreviewInvoiceRequest(_message.Message):
    __slots__ = ("subscription_id", "change_plan_id", "proration_time", "billing_cycle_anchor")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PRORATION_TIME_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    change_plan_id: str
    proration_time: _timestamp_pb2.Timestamp
    billing_cycle_anchor: str
    def __init__(self, subscription_id: _Optional[str] = ..., change_plan_id: _Optional[str] = ..., proration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., billing_cycle_anchor: _Optional[str] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("kind", "description", "meter_code", "quantity", "unit_amount", "amount_minor", "period_start", "period_end")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    kind: str
    description: str
    meter_code: str
    quantity: str
    unit_amount: str
    amount_minor: int
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[str] = ..., description: _Optional[str] = ..., meter_code: _Optional[str] = ..., quantity: _Optional[str] = ..., unit_amount: _Optional[str] = ..., amount_minor: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PreviewInvoiceResponse(_message.Message):
    __slots__ = ("currency", "lines", "total_minor", "proration_lines")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MINOR_FIELD_NUMBER: _ClassVar[int]
    PRORATION_LINES_FIELD_NUMBER: _ClassVar[int]
    currency: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total_minor: int
    proration_lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    def __init__(self, currency: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total_minor: _Optional[int] = ..., proration_lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ...) -> None: ...
