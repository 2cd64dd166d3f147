import datetime

from billing.v1 import billing_pb2 as _billing_pb2
from billing.v1 import usage_pb2 as _usage_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyProjectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyProjectionsResponse(_message.Message):
    __slots__ = ("ok", "chain", "projections", "events_replayed", "seconds")
    OK_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    PROJECTIONS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    chain: ChainCheck
    projections: _containers.RepeatedCompositeFieldContainer[ProjectionCheck]
    events_replayed: int
    seconds: float
    def __init__(self, ok: _Optional[bool] = ..., chain: _Optional[_Union[ChainCheck, _Mapping]] = ..., projections: _Optional[_Iterable[_Union[ProjectionCheck, _Mapping]]] = ..., events_replayed: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class ChainCheck(_message.Message):
    __slots__ = ("intact", "head", "checked", "unhashed_prefix", "broken_at", "reason")
    INTACT_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    UNHASHED_PREFIX_FIELD_NUMBER: _ClassVar[int]
    BROKEN_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    intact: bool
    head: int
    checked: int
    unhashed_prefix: int
    broken_at: int
    reason: str
    def __init__(self, intact: _Optional[bool] = ..., head: _Optional[int] = ..., checked: _Optional[int] = ..., unhashed_prefix: _Optional[int] = ..., broken_at: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ProjectionCheck(_message.Message):
    __slots__ = ("projection", "position", "documents", "difference_count", "differences", "error")
    PROJECTION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    projection: str
    position: int
    documents: int
    difference_count: int
    differences: _containers.RepeatedCompositeFieldContainer[DocumentDifference]
    error: str
    def __init__(self, projection: _Optional[str] = ..., position: _Optional[int] = ..., documents: _Optional[int] = ..., difference_count: _Optional[int] = ..., differences: _Optional[_Iterable[_Union[DocumentDifference, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class DocumentDifference(_message.Message):
    __slots__ = ("collection", "key", "kind", "live_checksum", "rebuilt_checksum")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LIVE_CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    REBUILT_CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    collection: str
    key: str
    kind: str
    live_checksum: str
    rebuilt_checksum: str
    def __init__(self, collection: _Optional[str] = ..., key: _Optional[str] = ..., kind: _Optional[str] = ..., live_checksum: _Optional[str] = ..., rebuilt_checksum: _Optional[str] = ...) -> None: ...

class ExplainInvoiceRequest(_message.Message):
    __slots__ = ("invoice_id",)
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class ExplainInvoiceResponse(_message.Message):
    __slots__ = ("invoice", "calculation_position", "calculation_json", "plans", "usage", "proration_lines", "credit_applied_minor")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    CALCULATION_POSITION_FIELD_NUMBER: _ClassVar[int]
    CALCULATION_JSON_FIELD_NUMBER: _ClassVar[int]
    PLANS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    PRORATION_LINES_FIELD_NUMBER: _ClassVar[int]
    CREDIT_APPLIED_MINOR_FIELD_NUMBER: _ClassVar[int]
    invoice: _billing_pb2.Invoice
    calculation_position: int
    calculation_json: str
    plans: _containers.RepeatedCompositeFieldContainer[ExplainedPlan]
    usage: _containers.RepeatedCompositeFieldContainer[ExplainedUsage]
    proration_lines: _containers.RepeatedCompositeFieldContainer[_usage_pb2.InvoiceLine]
    credit_applied_minor: int
    def __init__(self, invoice: _Optional[_Union[_billing_pb2.Invoice, _Mapping]] = ..., calculation_position: _Optional[int] = ..., calculation_json: _Optional[str] = ..., plans: _Optional[_Iterable[_Union[ExplainedPlan, _Mapping]]] = ..., usage: _Optional[_Iterable[_Union[ExplainedUsage, _Mapping]]] = ..., proration_lines: _Optional[_Iterable[_Union[_usage_pb2.InvoiceLine, _Mapping]]] = ..., credit_applied_minor: _Optional[int] = ...) -> None: ...

class ExplainedPlan(_message.Message):
    __slots__ = ("plan_id", "code", "position", "plan_created_json")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PLAN_CREATED_JSON_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    code: str
    position: int
    plan_created_json: str
    def __init__(self, plan_id: _Optional[str] = ..., code: _Optional[str] = ..., position: _Optional[int] = ..., plan_created_json: _Optional[str] = ...) -> None: ...

class ExplainedUsage(_message.Message):
    __slots__ = ("meter_code", "aggregation", "quantity", "event_count", "first_position", "last_position", "period_start", "plan_id")
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_POSITION_FIELD_NUMBER: _ClassVar[int]
    LAST_POSITION_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    meter_code: str
    aggregation: str
    quantity: str
    event_count: int
    first_position: int
    last_position: int
    period_start: _timestamp_pb2.Timestamp
    plan_id: str
    def __init__(self, meter_code: _Optional[str] = ..., aggregation: _Optional[str] = ..., quantity: _Optional[str] = ..., event_count: _Optional[int] = ..., first_position: _Optional[int] = ..., last_position: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plan_id: _Optional[str] = ...) -> None: ...
