from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateImagesRequest(_message.Message):
    __slots__ = ("prompt", "model", "n", "size", "quality", "style", "response_format", "user", "max_cost_per_call", "background", "output_format", "output_compression", "moderation", "partial_images")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_PER_CALL_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    MODERATION_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_IMAGES_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    model: str
    n: int
    size: str
    quality: str
    style: str
    response_format: str
    user: str
    max_cost_per_call: float
    background: str
    output_format: str
    output_compression: int
    moderation: str
    partial_images: int
    def __init__(self, prompt: _Optional[str] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., style: _Optional[str] = ..., response_format: _Optional[str] = ..., user: _Optional[str] = ..., max_cost_per_call: _Optional[float] = ..., background: _Optional[str] = ..., output_format: _Optional[str] = ..., output_compression: _Optional[int] = ..., moderation: _Optional[str] = ..., partial_images: _Optional[int] = ...) -> None: ...

class EditImagesRequest(_message.Message):
    __slots__ = ("images", "mask", "prompt", "model", "n", "size", "quality", "background", "output_format", "output_compression", "input_fidelity", "response_format", "user", "partial_images", "max_cost_per_call")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_PER_CALL_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedScalarFieldContainer[bytes]
    mask: bytes
    prompt: str
    model: str
    n: int
    size: str
    quality: str
    background: str
    output_format: str
    output_compression: int
    input_fidelity: str
    response_format: str
    user: str
    partial_images: int
    max_cost_per_call: float
    def __init__(self, images: _Optional[_Iterable[bytes]] = ..., mask: _Optional[bytes] = ..., prompt: _Optional[str] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., background: _Optional[str] = ..., output_format: _Optional[str] = ..., output_compression: _Optional[int] = ..., input_fidelity: _Optional[str] = ..., response_format: _Optional[str] = ..., user: _Optional[str] = ..., partial_images: _Optional[int] = ..., max_cost_per_call: _Optional[float] = ...) -> None: ...

class CreateImageVariationRequest(_message.Message):
    __slots__ = ("image", "model", "n", "size", "response_format", "user", "max_cost_per_call")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_PER_CALL_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    model: str
    n: int
    size: str
    response_format: str
    user: str
    max_cost_per_call: float
    def __init__(self, image: _Optional[bytes] = ..., model: _Optional[str] = ..., n: _Optional[int] = ..., size: _Optional[str] = ..., response_format: _Optional[str] = ..., user: _Optional[str] = ..., max_cost_per_call: _Optional[float] = ...) -> None: ...

class ImageStreamEvent(_message.Message):
    __slots__ = ("type", "image", "created_at", "size", "quality", "background", "output_format", "partial_image_index", "usage", "perf", "response")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_IMAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    PERF_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    type: str
    image: bytes
    created_at: int
    size: str
    quality: str
    background: str
    output_format: str
    partial_image_index: int
    usage: TokenUsage
    perf: Perf
    response: GenerateImagesResponse
    def __init__(self, type: _Optional[str] = ..., image: _Optional[bytes] = ..., created_at: _Optional[int] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., background: _Optional[str] = ..., output_format: _Optional[str] = ..., partial_image_index: _Optional[int] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., perf: _Optional[_Union[Perf, _Mapping]] = ..., response: _Optional[_Union[GenerateImagesResponse, _Mapping]] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("url", "revised_prompt", "data")
    URL_FIELD_NUMBER: _ClassVar[int]
    REVISED_PROMPT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    url: str
    revised_prompt: str
    data: bytes
    def __init__(self, url: _Optional[str] = ..., revised_prompt: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Perf(_message.Message):
    __slots__ = ("request_id", "model_used", "size", "quality", "cost_usd", "latency_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_USED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model_used: str
    size: str
    quality: str
    cost_usd: float
    latency_ms: int
    def __init__(self, request_id: _Optional[str] = ..., model_used: _Optional[str] = ..., size: _Optional[str] = ..., quality: _Optional[str] = ..., cost_usd: _Optional[float] = ..., latency_ms: _Optional[int] = ...) -> None: ...

class GenerateImagesResponse(_message.Message):
    __slots__ = ("created", "data", "perf", "usage", "background", "output_format", "quality", "size")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    PERF_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    created: int
    data: _containers.RepeatedCompositeFieldContainer[Image]
    perf: Perf
    usage: TokenUsage
    background: str
    output_format: str
    quality: str
    size: str
    def __init__(self, created: _Optional[int] = ..., data: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., perf: _Optional[_Union[Perf, _Mapping]] = ..., usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., background: _Optional[str] = ..., output_format: _Optional[str] = ..., quality: _Optional[str] = ..., size: _Optional[str] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details")
    class Details(_message.Message):
        __slots__ = ("text_tokens", "image_tokens")
        TEXT_TOKENS_FIELD_NUMBER: _ClassVar[int]
        IMAGE_TOKENS_FIELD_NUMBER: _ClassVar[int]
        text_tokens: int
        image_tokens: int
        def __init__(self, text_tokens: _Optional[int] = ..., image_tokens: _Optional[int] = ...) -> None: ...
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: TokenUsage.Details
    output_tokens_details: TokenUsage.Details
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., input_tokens_details: _Optional[_Union[TokenUsage.Details, _Mapping]] = ..., output_tokens_details: _Optional[_Union[TokenUsage.Details, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("object", "data")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    object: str
    data: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, object: _Optional[str] = ..., data: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class ModelCapabilities(_message.Message):
    __slots__ = ("sizes", "custom_sizes", "max_n", "qualities", "styles", "output_formats", "backgrounds", "moderation", "input_fidelity", "size_auto", "edit_max_images", "mask", "edits_without_mask", "variations", "streams_partial_images")
    SIZES_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_SIZES_FIELD_NUMBER: _ClassVar[int]
    MAX_N_FIELD_NUMBER: _ClassVar[int]
    QUALITIES_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FORMATS_FIELD_NUMBER: _ClassVar[int]
    BACKGROUNDS_FIELD_NUMBER: _ClassVar[int]
    MODERATION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    SIZE_AUTO_FIELD_NUMBER: _ClassVar[int]
    EDIT_MAX_IMAGES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    EDITS_WITHOUT_MASK_FIELD_NUMBER: _ClassVar[int]
    VARIATIONS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_PARTIAL_IMAGES_FIELD_NUMBER: _ClassVar[int]
    sizes: _containers.RepeatedScalarFieldContainer[str]
    custom_sizes: bool
    max_n: int
    qualities: _containers.RepeatedScalarFieldContainer[str]
    styles: _containers.RepeatedScalarFieldContainer[str]
    output_formats: _containers.RepeatedScalarFieldContainer[str]
    backgrounds: _containers.RepeatedScalarFieldContainer[str]
    moderation: _containers.RepeatedScalarFieldContainer[str]
    input_fidelity: _containers.RepeatedScalarFieldContainer[str]
    size_auto: bool
    edit_max_images: int
    mask: bool
    edits_without_mask: bool
    variations: bool
    streams_partial_images: bool
    def __init__(self, sizes: _Optional[_Iterable[str]] = ..., custom_sizes: _Optional[bool] = ..., max_n: _Optional[int] = ..., qualities: _Optional[_Iterable[str]] = ..., styles: _Optional[_Iterable[str]] = ..., output_formats: _Optional[_Iterable[str]] = ..., backgrounds: _Optional[_Iterable[str]] = ..., moderation: _Optional[_Iterable[str]] = ..., input_fidelity: _Optional[_Iterable[str]] = ..., size_auto: _Optional[bool] = ..., edit_max_images: _Optional[int] = ..., mask: _Optional[bool] = ..., edits_without_mask: _Optional[bool] = ..., variations: _Optional[bool] = ..., streams_partial_images: _Optional[bool] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("size", "quality", "usd_per_image")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    USD_PER_IMAGE_FIELD_NUMBER: _ClassVar[int]
    size: str
    quality: str
    usd_per_image: float
    def __init__(self, size: _Optional[str] = ..., quality: _Optional[str] = ..., usd_per_image: _Optional[float] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("id", "object", "created", "owned_by", "capabilities", "pricing", "lifecycle", "price_model", "megapixel_price", "token_price", "edit_price", "inpaint_price", "deployments")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    PRICING_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    PRICE_MODEL_FIELD_NUMBER: _ClassVar[int]
    MEGAPIXEL_PRICE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PRICE_FIELD_NUMBER: _ClassVar[int]
    EDIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    INPAINT_PRICE_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created: int
    owned_by: str
    capabilities: ModelCapabilities
    pricing: _containers.RepeatedCompositeFieldContainer[Price]
    lifecycle: Lifecycle
    price_model: str
    megapixel_price: MegapixelPrice
    token_price: TokenPrice
    edit_price: EditPrice
    inpaint_price: EditPrice
    deployments: _containers.RepeatedCompositeFieldContainer[DeploymentStatus]
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created: _Optional[int] = ..., owned_by: _Optional[str] = ..., capabilities: _Optional[_Union[ModelCapabilities, _Mapping]] = ..., pricing: _Optional[_Iterable[_Union[Price, _Mapping]]] = ..., lifecycle: _Optional[_Union[Lifecycle, _Mapping]] = ..., price_model: _Optional[str] = ..., megapixel_price: _Optional[_Union[MegapixelPrice, _Mapping]] = ..., token_price: _Optional[_Union[TokenPrice, _Mapping]] = ..., edit_price: _Optional[_Union[EditPrice, _Mapping]] = ..., inpaint_price: _Optional[_Union[EditPrice, _Mapping]] = ..., deployments: _Optional[_Iterable[_Union[DeploymentStatus, _Mapping]]] = ...) -> None: ...

class EditPrice(_message.Message):
    __slots__ = ("pricing", "input_megapixel_usd")
    PRICING_FIELD_NUMBER: _ClassVar[int]
    INPUT_MEGAPIXEL_USD_FIELD_NUMBER: _ClassVar[int]
    pricing: _containers.RepeatedCompositeFieldContainer[Price]
    input_megapixel_usd: float
    def __init__(self, pricing: _Optional[_Iterable[_Union[Price, _Mapping]]] = ..., input_megapixel_usd: _Optional[float] = ...) -> None: ...

class DeploymentStatus(_message.Message):
    __slots__ = ("id", "provider", "upstream_model", "configured", "circuit", "retry_after_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider: str
    upstream_model: str
    configured: bool
    circuit: str
    retry_after_seconds: float
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., upstream_model: _Optional[str] = ..., configured: _Optional[bool] = ..., circuit: _Optional[str] = ..., retry_after_seconds: _Optional[float] = ...) -> None: ...

class Lifecycle(_message.Message):
    __slots__ = ("status", "deprecated_on", "shutdown_on", "served_by")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_ON_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_ON_FIELD_NUMBER: _ClassVar[int]
    SERVED_BY_FIELD_NUMBER: _ClassVar[int]
    status: str
    deprecated_on: str
    shutdown_on: str
    served_by: ServedBy
    def __init__(self, status: _Optional[str] = ..., deprecated_on: _Optional[str] = ..., shutdown_on: _Optional[str] = ..., served_by: _Optional[_Union[ServedBy, _Mapping]] = ...) -> None: ...

class ServedBy(_message.Message):
    __slots__ = ("provider", "upstream_model")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_MODEL_FIELD_NUMBER: _ClassVar[int]
    provider: str
    upstream_model: str
    def __init__(self, provider: _Optional[str] = ..., upstream_model: _Optional[str] = ...) -> None: ...

class MegapixelPrice(_message.Message):
    __slots__ = ("first_megapixel_usd", "additional_megapixel_usd", "input_megapixel_usd")
    FIRST_MEGAPIXEL_USD_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_MEGAPIXEL_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_MEGAPIXEL_USD_FIELD_NUMBER: _ClassVar[int]
    first_megapixel_usd: float
    additional_megapixel_usd: float
    input_megapixel_usd: float
    def __init__(self, first_megapixel_usd: _Optional[float] = ..., additional_megapixel_usd: _Optional[float] = ..., input_megapixel_usd: _Optional[float] = ...) -> None: ...

class TokenPrice(_message.Message):
    __slots__ = ("text_input_usd", "image_input_usd", "image_output_usd", "text_output_usd")
    TEXT_INPUT_USD_FIELD_NUMBER: _ClassVar[int]
    IMAGE_INPUT_USD_FIELD_NUMBER: _ClassVar[int]
    IMAGE_OUTPUT_USD_FIELD_NUMBER: _ClassVar[int]
    TEXT_OUTPUT_USD_FIELD_NUMBER: _ClassVar[int]
    text_input_usd: float
    image_input_usd: float
    image_output_usd: float
    text_output_usd: float
    def __init__(self, text_input_usd: _Optional[float] = ..., image_input_usd: _Optional[float] = ..., image_output_usd: _Optional[float] = ..., text_output_usd: _Optional[float] = ...) -> None: ...

class GetImageContentRequest(_message.Message):
    __slots__ = ("image_id", "expires", "signature", "extension")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    expires: int
    signature: str
    extension: str
    def __init__(self, image_id: _Optional[str] = ..., expires: _Optional[int] = ..., signature: _Optional[str] = ..., extension: _Optional[str] = ...) -> None: ...

class ImageContent(_message.Message):
    __slots__ = ("content_type", "data", "expires")
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    data: bytes
    expires: int
    def __init__(self, content_type: _Optional[str] = ..., data: _Optional[bytes] = ..., expires: _Optional[int] = ...) -> None: ...

class ImageContentChunk(_message.Message):
    __slots__ = ("content_type", "expires", "length", "data")
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    expires: int
    length: int
    data: bytes
    def __init__(self, content_type: _Optional[str] = ..., expires: _Optional[int] = ..., length: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class UsageTotals(_message.Message):
    __slots__ = ("requests", "failed_requests", "images", "cost_usd", "billed_usd", "upstream_cost_usd", "margin_usd")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    FAILED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    BILLED_USD_FIELD_NUMBER: _ClassVar[int]
    UPSTREAM_COST_USD_FIELD_NUMBER: _ClassVar[int]
    MARGIN_USD_FIELD_NUMBER: _ClassVar[int]
    requests: int
    failed_requests: int
    images: int
    cost_usd: float
    billed_usd: float
    upstream_cost_usd: float
    margin_usd: float
    def __init__(self, requests: _Optional[int] = ..., failed_requests: _Optional[int] = ..., images: _Optional[int] = ..., cost_usd: _Optional[float] = ..., billed_usd: _Optional[float] = ..., upstream_cost_usd: _Optional[float] = ..., margin_usd: _Optional[float] = ...) -> None: ...

class DailyUsage(_message.Message):
    __slots__ = ("date", "totals")
    DATE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    date: str
    totals: UsageTotals
    def __init__(self, date: _Optional[str] = ..., totals: _Optional[_Union[UsageTotals, _Mapping]] = ...) -> None: ...

class ModelUsage(_message.Message):
    __slots__ = ("model", "totals")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    model: str
    totals: UsageTotals
    def __init__(self, model: _Optional[str] = ..., totals: _Optional[_Union[UsageTotals, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("object", "key_id", "mode", "start", "end", "totals", "days", "models", "providers")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    object: str
    key_id: str
    mode: str
    start: str
    end: str
    totals: UsageTotals
    days: _containers.RepeatedCompositeFieldContainer[DailyUsage]
    models: _containers.RepeatedCompositeFieldContainer[ModelUsage]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderUsage]
    def __init__(self, object: _Optional[str] = ..., key_id: _Optional[str] = ..., mode: _Optional[str] = ..., start: _Optional[str] = ..., end: _Optional[str] = ..., totals: _Optional[_Union[UsageTotals, _Mapping]] = ..., days: _Optional[_Iterable[_Union[DailyUsage, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[ModelUsage, _Mapping]]] = ..., providers: _Optional[_Iterable[_Union[ProviderUsage, _Mapping]]] = ...) -> None: ...

class ProviderUsage(_message.Message):
    __slots__ = ("provider", "totals")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    totals: UsageTotals
    def __init__(self, provider: _Optional[str] = ..., totals: _Optional[_Union[UsageTotals, _Mapping]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("generation", "edit", "webhook_url")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    generation: GenerateImagesRequest
    edit: EditImagesRequest
    webhook_url: str
    def __init__(self, generation: _Optional[_Union[GenerateImagesRequest, _Mapping]] = ..., edit: _Optional[_Union[EditImagesRequest, _Mapping]] = ..., webhook_url: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit", "after")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    after: str
    def __init__(self, limit: _Optional[int] = ..., after: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("data", "has_more", "first_id", "last_id")
    DATA_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ID_FIELD_NUMBER: _ClassVar[int]
    data: _containers.RepeatedCompositeFieldContainer[Job]
    has_more: bool
    first_id: str
    last_id: str
    def __init__(self, data: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., has_more: _Optional[bool] = ..., first_id: _Optional[str] = ..., last_id: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "object", "status", "created", "kind", "model", "completed_at", "result", "error", "webhook")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    status: str
    created: int
    kind: str
    model: str
    completed_at: int
    result: GenerateImagesResponse
    error: JobError
    webhook: WebhookDelivery
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., status: _Optional[str] = ..., created: _Optional[int] = ..., kind: _Optional[str] = ..., model: _Optional[str] = ..., completed_at: _Optional[int] = ..., result: _Optional[_Union[GenerateImagesResponse, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., webhook: _Optional[_Union[WebhookDelivery, _Mapping]] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("type", "message", "param", "code")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PARAM_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    param: str
    code: str
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., param: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ("url", "status", "attempts", "last_status")
    URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    url: str
    status: str
    attempts: int
    last_status: int
    def __init__(self, url: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., last_status: _Optional[int] = ...) -> None: ...
