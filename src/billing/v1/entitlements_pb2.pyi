from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entitlement(_message.Message):
    __slots__ = ("feature_code", "kind", "enabled", "limit", "unlimited", "cap", "meter_code", "used", "remaining", "subscription_id")
    FEATURE_CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    METER_CODE_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    feature_code: str
    kind: str
    enabled: bool
    limit: int
    unlimited: bool
    cap: str
    meter_code: str
    used: str
    remaining: str
    subscription_id: str
    def __init__(self, feature_code: _Optional[str] = ..., kind: _Optional[str] = ..., enabled: _Optional[bool] = ..., limit: _Optional[int] = ..., unlimited: _Optional[bool] = ..., cap: _Optional[str] = ..., meter_code: _Optional[str] = ..., used: _Optional[str] = ..., remaining: _Optional[str] = ..., subscription_id: _Optional[str] = ...) -> None: ...

class ListEntitlementsRequest(_message.Message):
    __slots__ = ("organization_id",)
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    def __init__(self, organization_id: _Optional[str] = ...) -> None: ...

class ListEntitlementsResponse(_message.Message):
    __slots__ = ("entitlements",)
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    entitlements: _containers.RepeatedCompositeFieldContainer[Entitlement]
    def __init__(self, entitlements: _Optional[_Iterable[_Union[Entitlement, _Mapping]]] = ...) -> None: ...

class CheckEntitlementRequest(_message.Message):
    __slots__ = ("organization_id", "feature_code", "requested")
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURE_CODE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    organization_id: str
    feature_code: str
    requested: str
    def __init__(self, organization_id: _Optional[str] = ..., feature_code: _Optional[str] = ..., requested: _Optional[str] = ...) -> None: ...

class CheckEntitlementResponse(_message.Message):
    __slots__ = ("allowed", "reason", "remaining", "entitlement")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENT_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    reason: str
    remaining: str
    entitlement: Entitlement
    def __init__(self, allowed: _Optional[bool] = ..., reason: _Optional[str] = ..., remaining: _Optional[str] = ..., entitlement: _Optional[_Union[Entitlement, _Mapping]] = ...) -> None: ...

class CheckEntitlementsRequest(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[CheckEntitlementRequest]
    def __init__(self, checks: _Optional[_Iterable[_Union[CheckEntitlementRequest, _Mapping]]] = ...) -> None: ...

class CheckEntitlementsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CheckEntitlementResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[CheckEntitlementResponse, _Mapping]]] = ...) -> None: ...
