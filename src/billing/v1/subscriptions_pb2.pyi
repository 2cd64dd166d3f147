import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Subscription(_message.Message):
    __slots__ = ("subscription_id", "organization_id", "plan_id", "status", "started_at", "cycle_anchor", "current_period_start", "current_period_end", "trial_end", "cancel_at", "canceled_at", "scheduled_plan_id", "pending_prorations", "stub_proration_behavior", "scheduled_billing_anchor", "paused_at")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    CYCLE_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    TRIAL_END_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELED_AT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_PRORATIONS_FIELD_NUMBER: _ClassVar[int]
    STUB_PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_BILLING_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    PAUSED_AT_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    organization_id: str
    plan_id: str
    status: str
    started_at: _timestamp_pb2.Timestamp
    cycle_anchor: _timestamp_pb2.Timestamp
    current_period_start: _timestamp_pb2.Timestamp
    current_period_end: _timestamp_pb2.Timestamp
    trial_end: _timestamp_pb2.Timestamp
    cancel_at: _timestamp_pb2.Timestamp
    canceled_at: _timestamp_pb2.Timestamp
    scheduled_plan_id: str
    pending_prorations: _containers.RepeatedCompositeFieldContainer[PendingProration]
    stub_proration_behavior: str
    scheduled_billing_anchor: _timestamp_pb2.Timestamp
    paused_at: _timestamp_pb2.Timestamp
    def __init__(self, subscription_id: _Optional[str] = ..., organization_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., status: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cycle_anchor: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., canceled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scheduled_plan_id: _Optional[str] = ..., pending_prorations: _Optional[_Iterable[_Union[PendingProration, _Mapping]]] = ..., stub_proration_behavior: _Optional[str] = ..., scheduled_billing_anchor: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paused_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PendingProration(_message.Message):
    __slots__ = ("description", "amount_minor", "period_start", "period_end")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    description: str
    amount_minor: int
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    def __init__(self, description: _Optional[str] = ..., amount_minor: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartSubscriptionRequest(_message.Message):
    __slots__ = ("organization_id", "plan_id", "start_time", "billing_anchor", "trial_days", "proration_behavior")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    BILLING_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    plan_id: str
    start_time: _timestamp_pb2.Timestamp
    billing_anchor: _timestamp_pb2.Timestamp
    trial_days: int
    proration_behavior: str
    def __init__(self, organization_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., billing_anchor: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_days: _Optional[int] = ..., proration_behavior: _Optional[str] = ...) -> None: ...

class StartSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class CancelSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id", "at_period_end", "prorate")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PRORATE_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    at_period_end: bool
    prorate: bool
    def __init__(self, subscription_id: _Optional[str] = ..., at_period_end: _Optional[bool] = ..., prorate: _Optional[bool] = ...) -> None: ...

class CancelSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class GetSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("organization_id",)
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    def __init__(self, organization_id: _Optional[str] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ...) -> None: ...

class ChangePlanRequest(_message.Message):
    __slots__ = ("subscription_id", "plan_id", "proration_behavior", "at_period_end", "billing_cycle_anchor")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    plan_id: str
    proration_behavior: str
    at_period_end: bool
    billing_cycle_anchor: str
    def __init__(self, subscription_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., proration_behavior: _Optional[str] = ..., at_period_end: _Optional[bool] = ..., billing_cycle_anchor: _Optional[str] = ...) -> None: ...

class ChangePlanResponse(_message.Message):
    __slots__ = ("subscription", "invoice_id", "proration_lines")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    PRORATION_LINES_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    invoice_id: str
    proration_lines: _containers.RepeatedCompositeFieldContainer[PendingProration]
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., invoice_id: _Optional[str] = ..., proration_lines: _Optional[_Iterable[_Union[PendingProration, _Mapping]]] = ...) -> None: ...

class ChangeBillingAnchorRequest(_message.Message):
    __slots__ = ("subscription_id", "billing_anchor", "proration_behavior")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    billing_anchor: _timestamp_pb2.Timestamp
    proration_behavior: str
    def __init__(self, subscription_id: _Optional[str] = ..., billing_anchor: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proration_behavior: _Optional[str] = ...) -> None: ...

class ChangeBillingAnchorResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class PauseSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id",)
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    def __init__(self, subscription_id: _Optional[str] = ...) -> None: ...

class PauseSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class ResumeSubscriptionRequest(_message.Message):
    __slots__ = ("subscription_id", "billing_cycle_anchor", "proration_behavior")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    billing_cycle_anchor: str
    proration_behavior: str
    def __init__(self, subscription_id: _Optional[str] = ..., billing_cycle_anchor: _Optional[str] = ..., proration_behavior: _Optional[str] = ...) -> None: ...

class ResumeSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...
