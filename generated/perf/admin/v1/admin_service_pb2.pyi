from perf.images.v1 import image_service_pb2 as _image_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Key(_message.Message):
    __slots__ = ("id", "mode", "tier", "name", "hint", "created", "revoked", "minute_limit", "day_limit", "effective_minute_limit", "effective_day_limit", "monthly_cap_usd", "operator", "month_to_date_usd", "cap_used_usd")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    MINUTE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    DAY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_MINUTE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DAY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_CAP_USD_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    MONTH_TO_DATE_USD_FIELD_NUMBER: _ClassVar[int]
    CAP_USED_USD_FIELD_NUMBER: _ClassVar[int]
    id: str
    mode: str
    tier: str
    name: str
    hint: str
    created: int
    revoked: int
    minute_limit: int
    day_limit: int
    effective_minute_limit: int
    effective_day_limit: int
    monthly_cap_usd: float
    operator: bool
    month_to_date_usd: float
    cap_used_usd: float
    def __init__(self, id: _Optional[str] = ..., mode: _Optional[str] = ..., tier: _Optional[str] = ..., name: _Optional[str] = ..., hint: _Optional[str] = ..., created: _Optional[int] = ..., revoked: _Optional[int] = ..., minute_limit: _Optional[int] = ..., day_limit: _Optional[int] = ..., effective_minute_limit: _Optional[int] = ..., effective_day_limit: _Optional[int] = ..., monthly_cap_usd: _Optional[float] = ..., operator: _Optional[bool] = ..., month_to_date_usd: _Optional[float] = ..., cap_used_usd: _Optional[float] = ...) -> None: ...

class KeyWithSecret(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: Key
    secret: str
    def __init__(self, key: _Optional[_Union[Key, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class CreateKeyRequest(_message.Message):
    __slots__ = ("mode", "tier", "name", "minute_limit", "day_limit", "monthly_cap_usd", "operator")
    MODE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MINUTE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    DAY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_CAP_USD_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    mode: str
    tier: str
    name: str
    minute_limit: int
    day_limit: int
    monthly_cap_usd: float
    operator: bool
    def __init__(self, mode: _Optional[str] = ..., tier: _Optional[str] = ..., name: _Optional[str] = ..., minute_limit: _Optional[int] = ..., day_limit: _Optional[int] = ..., monthly_cap_usd: _Optional[float] = ..., operator: _Optional[bool] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Key]
    def __init__(self, data: _Optional[_Iterable[_Union[Key, _Mapping]]] = ...) -> None: ...

class KeyRef(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class UpdateKeyRequest(_message.Message):
    __slots__ = ("key_id", "name", "minute_limit", "day_limit", "monthly_cap_usd", "clear_minute_limit", "clear_day_limit", "clear_monthly_cap")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MINUTE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    DAY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_CAP_USD_FIELD_NUMBER: _ClassVar[int]
    CLEAR_MINUTE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CLEAR_DAY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CLEAR_MONTHLY_CAP_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    name: str
    minute_limit: int
    day_limit: int
    monthly_cap_usd: float
    clear_minute_limit: bool
    clear_day_limit: bool
    clear_monthly_cap: bool
    def __init__(self, key_id: _Optional[str] = ..., name: _Optional[str] = ..., minute_limit: _Optional[int] = ..., day_limit: _Optional[int] = ..., monthly_cap_usd: _Optional[float] = ..., clear_minute_limit: _Optional[bool] = ..., clear_day_limit: _Optional[bool] = ..., clear_monthly_cap: _Optional[bool] = ...) -> None: ...

class UsageRequest(_message.Message):
    __slots__ = ("start", "end", "key_id", "mode")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    key_id: str
    mode: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., key_id: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class KeyUsage(_message.Message):
    __slots__ = ("key_id", "name", "mode", "totals")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    name: str
    mode: str
    totals: _image_service_pb2.UsageTotals
    def __init__(self, key_id: _Optional[str] = ..., name: _Optional[str] = ..., mode: _Optional[str] = ..., totals: _Optional[_Union[_image_service_pb2.UsageTotals, _Mapping]] = ...) -> None: ...

class ErrorCount(_message.Message):
    __slots__ = ("type", "requests")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    type: str
    requests: int
    def __init__(self, type: _Optional[str] = ..., requests: _Optional[int] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("start", "end", "totals", "days", "models", "providers", "keys", "errors", "rate_limited_requests", "key_models")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    KEY_MODELS_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    totals: _image_service_pb2.UsageTotals
    days: _containers.RepeatedCompositeFieldContainer[_image_service_pb2.DailyUsage]
    models: _containers.RepeatedCompositeFieldContainer[_image_service_pb2.ModelUsage]
    providers: _containers.RepeatedCompositeFieldContainer[_image_service_pb2.ProviderUsage]
    keys: _containers.RepeatedCompositeFieldContainer[KeyUsage]
    errors: _containers.RepeatedCompositeFieldContainer[ErrorCount]
    rate_limited_requests: int
    key_models: _containers.RepeatedCompositeFieldContainer[KeyModelUsage]
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., totals: _Optional[_Union[_image_service_pb2.UsageTotals, _Mapping]] = ..., days: _Optional[_Iterable[_Union[_image_service_pb2.DailyUsage, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[_image_service_pb2.ModelUsage, _Mapping]]] = ..., providers: _Optional[_Iterable[_Union[_image_service_pb2.ProviderUsage, _Mapping]]] = ..., keys: _Optional[_Iterable[_Union[KeyUsage, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[ErrorCount, _Mapping]]] = ..., rate_limited_requests: _Optional[int] = ..., key_models: _Optional[_Iterable[_Union[KeyModelUsage, _Mapping]]] = ...) -> None: ...

class KeyModelUsage(_message.Message):
    __slots__ = ("key_id", "name", "mode", "model", "totals")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    name: str
    mode: str
    model: str
    totals: _image_service_pb2.UsageTotals
    def __init__(self, key_id: _Optional[str] = ..., name: _Optional[str] = ..., mode: _Optional[str] = ..., model: _Optional[str] = ..., totals: _Optional[_Union[_image_service_pb2.UsageTotals, _Mapping]] = ...) -> None: ...

class ListGenerationsRequest(_message.Message):
    __slots__ = ("key_id", "model", "status", "start", "end", "limit", "cursor")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    model: str
    status: str
    start: str
    end: str
    limit: int
    cursor: str
    def __init__(self, key_id: _Optional[str] = ..., model: _Optional[str] = ..., status: _Optional[str] = ..., start: _Optional[str] = ..., end: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class GenerationImage(_message.Message):
    __slots__ = ("url", "expires")
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    url: str
    expires: int
    def __init__(self, url: _Optional[str] = ..., expires: _Optional[int] = ...) -> None: ...

class Generation(_message.Message):
    __slots__ = ("id", "request_id", "key_id", "key_name", "mode", "model", "provider", "upstream_model", "n_requested", "n_delivered", "size", "quality", "cost_usd", "billed_usd", "upstream_cost_usd", "latency_ms", "status", "error_type", "user", "created", "prompt", "images", "stored_images", "kind")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    N_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    N_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    BILLED_USD_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_COST_USD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    STORED_IMAGES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    id: str
    request_id: str
    key_id: str
    key_name: str
    mode: str
    model: str
    provider: str
    upstream_model: str
    n_requested: int
    n_delivered: int
    size: str
    quality: str
    cost_usd: float
    billed_usd: float
    upstream_cost_usd: float
    latency_ms: int
    status: str
    error_type: str
    user: str
    created: int
    prompt: str
    images: _containers.RepeatedCompositeFieldContainer[GenerationImage]
    stored_images: int
    kind: str
    def __init__(self, id: _Optional[str] = ..., request_id: _Optional[str] = ..., key_id: _Optional[str] = ..., key_name: _Optional[str] = ..., mode: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., upstream_model: _Optional[str] = ..., n_requested: _Optional[int] = ..., n_delivered: _Optional[int] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., cost_usd: _Optional[float] = ..., billed_usd: _Optional[float] = ..., upstream_cost_usd: _Optional[float] = ..., latency_ms: _Optional[int] = ..., status: _Optional[str] = ..., error_type: _Optional[str] = ..., user: _Optional[str] = ..., created: _Optional[int] = ..., prompt: _Optional[str] = ..., images: _Optional[_Iterable[_Union[GenerationImage, _Mapping]]] = ..., stored_images: _Optional[int] = ..., kind: _Optional[str] = ...) -> None: ...

class ListGenerationsResponse(_message.Message):
    __slots__ = ("data", "next_cursor")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Generation]
    next_cursor: str
    def __init__(self, data: _Optional[_Iterable[_Union[Generation, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListCatalogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeploymentState(_message.Message):
    __slots__ = ("id", "provider", "upstream_model", "state", "deprecated_on", "shutdown_on", "successor", "gone_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_ON_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_ON_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_FIELD_NUMBER: _ClassVar[int]
    GONE_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider: str
    upstream_model: str
    state: str
    deprecated_on: str
    shutdown_on: str
    successor: str
    gone_reason: str
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., upstream_model: _Optional[str] = ..., state: _Optional[str] = ..., deprecated_on: _Optional[str] = ..., shutdown_on: _Optional[str] = ..., successor: _Optional[str] = ..., gone_reason: _Optional[str] = ...) -> None: ...

class CatalogModel(_message.Message):
    __slots__ = ("model", "deployments", "warning", "days_to_shutdown")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    DAYS_TO_SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    model: _image_service_pb2.Model
    deployments: _containers.RepeatedCompositeFieldContainer[DeploymentState]
    warning: str
    days_to_shutdown: int
    def __init__(self, model: _Optional[_Union[_image_service_pb2.Model, _Mapping]] = ..., deployments: _Optional[_Iterable[_Union[DeploymentState, _Mapping]]] = ..., warning: _Optional[str] = ..., days_to_shutdown: _Optional[int] = ...) -> None: ...

class ListCatalogResponse(_message.Message):
    __slots__ = ("today", "data")
    TODAY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    today: str
    data: _containers.RepeatedCompositeFieldContainer[CatalogModel]
    def __init__(self, today: _Optional[str] = ..., data: _Optional[_Iterable[_Union[CatalogModel, _Mapping]]] = ...) -> None: ...

class ListProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProviderStatus(_message.Message):
    __slots__ = ("id", "name", "configured", "env_hint", "models", "recent_requests", "recent_errors", "recent_errors_by_type", "breaker_state")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    ENV_HINT_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    RECENT_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ERRORS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ERRORS_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    BREAKER_STATE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    configured: bool
    env_hint: str
    models: _containers.RepeatedScalarFieldContainer[str]
    recent_requests: int
    recent_errors: int
    recent_errors_by_type: _containers.RepeatedCompositeFieldContainer[ErrorCount]
    breaker_state: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., configured: _Optional[bool] = ..., env_hint: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., recent_requests: _Optional[int] = ..., recent_errors: _Optional[int] = ..., recent_errors_by_type: _Optional[_Iterable[_Union[ErrorCount, _Mapping]]] = ..., breaker_state: _Optional[str] = ...) -> None: ...

class ListProvidersResponse(_message.Message):
    __slots__ = ("window_seconds", "data")
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    window_seconds: int
    data: _containers.RepeatedCompositeFieldContainer[ProviderStatus]
    def __init__(self, window_seconds: _Optional[int] = ..., data: _Optional[_Iterable[_Union[ProviderStatus, _Mapping]]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("limit", "cursor")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    limit: int
    cursor: str
    def __init__(self, limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("id", "at", "actor", "action", "target", "address", "detail", "request_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    at: int
    actor: str
    action: str
    target: str
    address: str
    detail: str
    request_id: str
    def __init__(self, id: _Optional[str] = ..., at: _Optional[int] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., address: _Optional[str] = ..., detail: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("data", "next_cursor")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_cursor: str
    def __init__(self, data: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...
