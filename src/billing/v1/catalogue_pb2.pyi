import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Meter(_message.Message):
    __slots__ = ("code", "name", "aggregation", "property", "created_at")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    aggregation: str
    property: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., aggregation: _Optional[str] = ..., property: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateMeterRequest(_message.Message):
    __slots__ = ("code", "name", "aggregation", "property")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    aggregation: str
    property: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., aggregation: _Optional[str] = ..., property: _Optional[str] = ...) -> None: ...

class CreateMeterResponse(_message.Message):
    __slots__ = ("meter",)
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class GetMeterRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetMeterResponse(_message.Message):
    __slots__ = ("meter",)
    METER_FIELD_NUMBER: _ClassVar[int]
    meter: Meter
    def __init__(self, meter: _Optional[_Union[Meter, _Mapping]] = ...) -> None: ...

class ListMetersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMetersResponse(_message.Message):
    __slots__ = ("meters",)
    METERS_FIELD_NUMBER: _ClassVar[int]
    meters: _containers.RepeatedCompositeFieldContainer[Meter]
    def __init__(self, meters: _Optional[_Iterable[_Union[Meter, _Mapping]]] = ...) -> None: ...

class Tier(_message.Message):
    __slots__ = ("up_to", "unit_price", "flat_fee")
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    FLAT_FEE_FIELD_NUMBER: _ClassVar[int]
    up_to: str
    unit_price: str
    flat_fee: str
    def __init__(self, up_to: _Optional[str] = ..., unit_price: _Optional[str] = ..., flat_fee: _Optional[str] = ...) -> None: ...

class PerUnit(_message.Message):
    __slots__ = ("unit_price",)
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    unit_price: str
    def __init__(self, unit_price: _Optional[str] = ...) -> None: ...

class Tiers(_message.Message):
    __slots__ = ("tiers",)
    TIERS_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[Tier]
    def __init__(self, tiers: _Optional[_Iterable[_Union[Tier, _Mapping]]] = ...) -> None: ...

class Package(_message.Message):
    __slots__ = ("size", "price")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    size: int
    price: str
    def __init__(self, size: _Optional[int] = ..., price: _Optional[str] = ...) -> None: ...

class Percentage(_message.Message):
    __slots__ = ("rate_percent", "fixed_fee_per_event", "free_transactions", "free_amount", "per_transaction_min", "per_transaction_max")
    RATE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    FIXED_FEE_PER_EVENT_FIELD_NUMBER: _ClassVar[int]
    FREE_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    FREE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PER_TRANSACTION_MIN_FIELD_NUMBER: _ClassVar[int]
    PER_TRANSACTION_MAX_FIELD_NUMBER: _ClassVar[int]
    rate_percent: str
    fixed_fee_per_event: str
    free_transactions: int
    free_amount: str
    per_transaction_min: str
    per_transaction_max: str
    def __init__(self, rate_percent: _Optional[str] = ..., fixed_fee_per_event: _Optional[str] = ..., free_transactions: _Optional[int] = ..., free_amount: _Optional[str] = ..., per_transaction_min: _Optional[str] = ..., per_transaction_max: _Optional[str] = ...) -> None: ...

class Charge(_message.Message):
    __slots__ = ("meter_code", "per_unit", "graduated", "volume", "package", "percentage", "free_units", "minimum")
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    GRADUATED_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    FREE_UNITS_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FIELD_NUMBER: _ClassVar[int]
    meter_code: str
    per_unit: PerUnit
    graduated: Tiers
    volume: Tiers
    package: Package
    percentage: Percentage
    free_units: str
    minimum: str
    def __init__(self, meter_code: _Optional[str] = ..., per_unit: _Optional[_Union[PerUnit, _Mapping]] = ..., graduated: _Optional[_Union[Tiers, _Mapping]] = ..., volume: _Optional[_Union[Tiers, _Mapping]] = ..., package: _Optional[_Union[Package, _Mapping]] = ..., percentage: _Optional[_Union[Percentage, _Mapping]] = ..., free_units: _Optional[str] = ..., minimum: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("plan_id", "code", "name", "currency", "interval_unit", "interval_count", "base_fee_minor", "trial_days", "charges", "created_at", "archived_at", "features", "base_fee_timing", "proration_unit")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_UNIT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    BASE_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ARCHIVED_AT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    BASE_FEE_TIMING_FIELD_NUMBER: _ClassVar[int]
    PRORATION_UNIT_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    code: str
    name: str
    currency: str
    interval_unit: str
    interval_count: int
    base_fee_minor: int
    trial_days: int
    charges: _containers.RepeatedCompositeFieldContainer[Charge]
    created_at: _timestamp_pb2.Timestamp
    archived_at: _timestamp_pb2.Timestamp
    features: _containers.RepeatedCompositeFieldContainer[PlanFeature]
    base_fee_timing: str
    proration_unit: str
    def __init__(self, plan_id: _Optional[str] = ..., code: _Optional[str] = ..., name: _Optional[str] = ..., currency: _Optional[str] = ..., interval_unit: _Optional[str] = ..., interval_count: _Optional[int] = ..., base_fee_minor: _Optional[int] = ..., trial_days: _Optional[int] = ..., charges: _Optional[_Iterable[_Union[Charge, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., archived_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., features: _Optional[_Iterable[_Union[PlanFeature, _Mapping]]] = ..., base_fee_timing: _Optional[str] = ..., proration_unit: _Optional[str] = ...) -> None: ...

class CreatePlanRequest(_message.Message):
    __slots__ = ("code", "name", "currency", "interval_unit", "interval_count", "base_fee_minor", "trial_days", "charges", "features", "base_fee_timing", "proration_unit")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_UNIT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    BASE_FEE_MINOR_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    BASE_FEE_TIMING_FIELD_NUMBER: _ClassVar[int]
    PRORATION_UNIT_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    currency: str
    interval_unit: str
    interval_count: int
    base_fee_minor: int
    trial_days: int
    charges: _containers.RepeatedCompositeFieldContainer[Charge]
    features: _containers.RepeatedCompositeFieldContainer[PlanFeature]
    base_fee_timing: str
    proration_unit: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., currency: _Optional[str] = ..., interval_unit: _Optional[str] = ..., interval_count: _Optional[int] = ..., base_fee_minor: _Optional[int] = ..., trial_days: _Optional[int] = ..., charges: _Optional[_Iterable[_Union[Charge, _Mapping]]] = ..., features: _Optional[_Iterable[_Union[PlanFeature, _Mapping]]] = ..., base_fee_timing: _Optional[str] = ..., proration_unit: _Optional[str] = ...) -> None: ...

class CreatePlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("plan_id",)
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    def __init__(self, plan_id: _Optional[str] = ...) -> None: ...

class GetPlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_archived")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ARCHIVED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_archived: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_archived: _Optional[bool] = ...) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans", "next_page_token")
    PLANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    next_page_token: str
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ArchivePlanRequest(_message.Message):
    __slots__ = ("plan_id",)
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    def __init__(self, plan_id: _Optional[str] = ...) -> None: ...

class ArchivePlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("code", "name", "kind", "meter_code", "created_at")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    kind: str
    meter_code: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., meter_code: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateFeatureRequest(_message.Message):
    __slots__ = ("code", "name", "kind", "meter_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    kind: str
    meter_code: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., meter_code: _Optional[str] = ...) -> None: ...

class CreateFeatureResponse(_message.Message):
    __slots__ = ("feature",)
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    feature: Feature
    def __init__(self, feature: _Optional[_Union[Feature, _Mapping]] = ...) -> None: ...

class GetFeatureRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetFeatureResponse(_message.Message):
    __slots__ = ("feature",)
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    feature: Feature
    def __init__(self, feature: _Optional[_Union[Feature, _Mapping]] = ...) -> None: ...

class ListFeaturesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFeaturesResponse(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[Feature]
    def __init__(self, features: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ...) -> None: ...

class PlanFeature(_message.Message):
    __slots__ = ("feature_code", "kind", "enabled", "limit", "unlimited", "cap", "meter_code")
    FEATURE_CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    feature_code: str
    kind: str
    enabled: bool
    limit: int
    unlimited: bool
    cap: str
    meter_code: str
    def __init__(self, feature_code: _Optional[str] = ..., kind: _Optional[str] = ..., enabled: _Optional[bool] = ..., limit: _Optional[int] = ..., unlimited: _Optional[bool] = ..., cap: _Optional[str] = ..., meter_code: _Optional[str] = ...) -> None: ...
