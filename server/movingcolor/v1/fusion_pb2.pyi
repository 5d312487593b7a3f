from movingcolor.v1 import image_pb2 as _image_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MatteSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MATTE_SOURCE_FRAMES: _ClassVar[MatteSource]
    MATTE_SOURCE_PLATE_ALPHA: _ClassVar[MatteSource]
MATTE_SOURCE_FRAMES: MatteSource
MATTE_SOURCE_PLATE_ALPHA: MatteSource

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Info(_message.Message):
    __slots__ = ("version", "protocol", "packages", "devices", "engines", "models", "limits", "roots", "ocio_config", "active_jobs", "cache", "ocio_config_digest", "features", "ocio_context")
    class PackagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class OcioContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    ENGINES_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    OCIO_CONFIG_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_JOBS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    OCIO_CONFIG_DIGEST_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    OCIO_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    version: str
    protocol: str
    packages: _containers.ScalarMap[str, str]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    engines: _containers.RepeatedCompositeFieldContainer[EngineInfo]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    limits: Limits
    roots: _containers.RepeatedScalarFieldContainer[str]
    ocio_config: str
    active_jobs: int
    cache: CacheStats
    ocio_config_digest: str
    features: _containers.RepeatedScalarFieldContainer[str]
    ocio_context: _containers.ScalarMap[str, str]
    def __init__(self, version: _Optional[str] = ..., protocol: _Optional[str] = ..., packages: _Optional[_Mapping[str, str]] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., engines: _Optional[_Iterable[_Union[EngineInfo, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., roots: _Optional[_Iterable[str]] = ..., ocio_config: _Optional[str] = ..., active_jobs: _Optional[int] = ..., cache: _Optional[_Union[CacheStats, _Mapping]] = ..., ocio_config_digest: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., ocio_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CacheStats(_message.Message):
    __slots__ = ("images", "image_bytes", "image_capacity_bytes", "received_bytes", "references", "evicted_references", "results", "result_hits", "result_misses")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BYTES_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    EVICTED_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_HITS_FIELD_NUMBER: _ClassVar[int]
    RESULT_MISSES_FIELD_NUMBER: _ClassVar[int]
    images: int
    image_bytes: int
    image_capacity_bytes: int
    received_bytes: int
    references: int
    evicted_references: int
    results: int
    result_hits: int
    result_misses: int
    def __init__(self, images: _Optional[int] = ..., image_bytes: _Optional[int] = ..., image_capacity_bytes: _Optional[int] = ..., received_bytes: _Optional[int] = ..., references: _Optional[int] = ..., evicted_references: _Optional[int] = ..., results: _Optional[int] = ..., result_hits: _Optional[int] = ..., result_misses: _Optional[int] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class EngineInfo(_message.Message):
    __slots__ = ("name", "description", "temporal_radius", "shared", "loaded_on")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TEMPORAL_RADIUS_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    LOADED_ON_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    temporal_radius: int
    shared: bool
    loaded_on: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., temporal_radius: _Optional[int] = ..., shared: _Optional[bool] = ..., loaded_on: _Optional[_Iterable[str]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "network")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    name: str
    network: str
    def __init__(self, name: _Optional[str] = ..., network: _Optional[str] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_message_bytes", "part_bytes", "max_image_bytes", "max_jobs", "max_window_frames", "device_slots")
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PART_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_WINDOW_FRAMES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    max_message_bytes: int
    part_bytes: int
    max_image_bytes: int
    max_jobs: int
    max_window_frames: int
    device_slots: int
    def __init__(self, max_message_bytes: _Optional[int] = ..., part_bytes: _Optional[int] = ..., max_image_bytes: _Optional[int] = ..., max_jobs: _Optional[int] = ..., max_window_frames: _Optional[int] = ..., device_slots: _Optional[int] = ...) -> None: ...

class Grade(_message.Message):
    __slots__ = ("text", "file", "file_name", "cccid")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CCCID_FIELD_NUMBER: _ClassVar[int]
    text: str
    file: bytes
    file_name: str
    cccid: str
    def __init__(self, text: _Optional[str] = ..., file: _Optional[bytes] = ..., file_name: _Optional[str] = ..., cccid: _Optional[str] = ...) -> None: ...

class Output(_message.Message):
    __slots__ = ("encoding", "format", "sample_type", "compression")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    encoding: _image_pb2.Encoding
    format: str
    sample_type: _image_pb2.SampleType
    compression: str
    def __init__(self, encoding: _Optional[_Union[_image_pb2.Encoding, str]] = ..., format: _Optional[str] = ..., sample_type: _Optional[_Union[_image_pb2.SampleType, str]] = ..., compression: _Optional[str] = ...) -> None: ...

class ShotSetup(_message.Message):
    __slots__ = ("clip", "render", "handles", "grade", "graded", "edited", "matte", "engine", "model", "device", "band", "config", "plate_colorspace", "graded_colorspace", "grade_colorspace", "out_colorspace", "output", "plate")
    CLIP_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    GRADED_FIELD_NUMBER: _ClassVar[int]
    EDITED_FIELD_NUMBER: _ClassVar[int]
    MATTE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PLATE_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    GRADED_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    GRADE_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    OUT_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    clip: _containers.RepeatedScalarFieldContainer[int]
    render: _image_pb2.FrameRange
    handles: int
    grade: Grade
    graded: bool
    edited: bool
    matte: MatteSource
    engine: str
    model: str
    device: str
    band: str
    config: str
    plate_colorspace: str
    graded_colorspace: str
    grade_colorspace: str
    out_colorspace: str
    output: Output
    plate: str
    def __init__(self, clip: _Optional[_Iterable[int]] = ..., render: _Optional[_Union[_image_pb2.FrameRange, _Mapping]] = ..., handles: _Optional[int] = ..., grade: _Optional[_Union[Grade, _Mapping]] = ..., graded: _Optional[bool] = ..., edited: _Optional[bool] = ..., matte: _Optional[_Union[MatteSource, str]] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., device: _Optional[str] = ..., band: _Optional[str] = ..., config: _Optional[str] = ..., plate_colorspace: _Optional[str] = ..., graded_colorspace: _Optional[str] = ..., grade_colorspace: _Optional[str] = ..., out_colorspace: _Optional[str] = ..., output: _Optional[_Union[Output, _Mapping]] = ..., plate: _Optional[str] = ...) -> None: ...

class FuseShotRequest(_message.Message):
    __slots__ = ("setup", "part")
    SETUP_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    setup: ShotSetup
    part: _image_pb2.ImagePart
    def __init__(self, setup: _Optional[_Union[ShotSetup, _Mapping]] = ..., part: _Optional[_Union[_image_pb2.ImagePart, _Mapping]] = ...) -> None: ...

class FuseShotResponse(_message.Message):
    __slots__ = ("accepted", "part", "done")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    accepted: ShotAccepted
    part: _image_pb2.ImagePart
    done: ShotDone
    def __init__(self, accepted: _Optional[_Union[ShotAccepted, _Mapping]] = ..., part: _Optional[_Union[_image_pb2.ImagePart, _Mapping]] = ..., done: _Optional[_Union[ShotDone, _Mapping]] = ...) -> None: ...

class ShotAccepted(_message.Message):
    __slots__ = ("job_id", "render", "needed", "roles", "buffer_frames", "engine", "model", "device")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    NEEDED_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    BUFFER_FRAMES_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    render: _image_pb2.FrameRange
    needed: _containers.RepeatedScalarFieldContainer[int]
    roles: _containers.RepeatedScalarFieldContainer[_image_pb2.Role]
    buffer_frames: int
    engine: str
    model: str
    device: str
    def __init__(self, job_id: _Optional[str] = ..., render: _Optional[_Union[_image_pb2.FrameRange, _Mapping]] = ..., needed: _Optional[_Iterable[int]] = ..., roles: _Optional[_Iterable[_Union[_image_pb2.Role, str]]] = ..., buffer_frames: _Optional[int] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., device: _Optional[str] = ...) -> None: ...

class ShotSummary(_message.Message):
    __slots__ = ("frames", "engine", "model", "band", "colorspaces", "grade", "config", "seconds", "written", "frame_count", "warnings")
    class ColorspacesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    COLORSPACES_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    WRITTEN_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    frames: str
    engine: str
    model: str
    band: str
    colorspaces: _containers.ScalarMap[str, str]
    grade: str
    config: str
    seconds: float
    written: _containers.RepeatedScalarFieldContainer[str]
    frame_count: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, frames: _Optional[str] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., band: _Optional[str] = ..., colorspaces: _Optional[_Mapping[str, str]] = ..., grade: _Optional[str] = ..., config: _Optional[str] = ..., seconds: _Optional[float] = ..., written: _Optional[_Iterable[str]] = ..., frame_count: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ShotDone(_message.Message):
    __slots__ = ("summary",)
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    summary: ShotSummary
    def __init__(self, summary: _Optional[_Union[ShotSummary, _Mapping]] = ...) -> None: ...

class JobRequest(_message.Message):
    __slots__ = ("plate", "matte", "grade", "graded", "edited", "out", "frames", "handles", "band", "engine", "model", "device", "config", "plate_colorspace", "graded_colorspace", "grade_colorspace", "out_colorspace", "exr_type", "compression")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    MATTE_FIELD_NUMBER: _ClassVar[int]
    GRADE_FIELD_NUMBER: _ClassVar[int]
    GRADED_FIELD_NUMBER: _ClassVar[int]
    EDITED_FIELD_NUMBER: _ClassVar[int]
    OUT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    HANDLES_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    PLATE_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    GRADED_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    GRADE_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    OUT_COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    EXR_TYPE_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    plate: str
    matte: str
    grade: str
    graded: str
    edited: str
    out: str
    frames: str
    handles: int
    band: str
    engine: str
    model: str
    device: str
    config: str
    plate_colorspace: str
    graded_colorspace: str
    grade_colorspace: str
    out_colorspace: str
    exr_type: str
    compression: str
    def __init__(self, plate: _Optional[str] = ..., matte: _Optional[str] = ..., grade: _Optional[str] = ..., graded: _Optional[str] = ..., edited: _Optional[str] = ..., out: _Optional[str] = ..., frames: _Optional[str] = ..., handles: _Optional[int] = ..., band: _Optional[str] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., device: _Optional[str] = ..., config: _Optional[str] = ..., plate_colorspace: _Optional[str] = ..., graded_colorspace: _Optional[str] = ..., grade_colorspace: _Optional[str] = ..., out_colorspace: _Optional[str] = ..., exr_type: _Optional[str] = ..., compression: _Optional[str] = ...) -> None: ...

class JobAccepted(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class FrameWritten(_message.Message):
    __slots__ = ("frame", "done", "total", "path")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    frame: int
    done: int
    total: int
    path: str
    def __init__(self, frame: _Optional[int] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., path: _Optional[str] = ...) -> None: ...

class JobDone(_message.Message):
    __slots__ = ("summary",)
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    summary: ShotSummary
    def __init__(self, summary: _Optional[_Union[ShotSummary, _Mapping]] = ...) -> None: ...

class JobProgress(_message.Message):
    __slots__ = ("accepted", "frame", "done")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    accepted: JobAccepted
    frame: FrameWritten
    done: JobDone
    def __init__(self, accepted: _Optional[_Union[JobAccepted, _Mapping]] = ..., frame: _Optional[_Union[FrameWritten, _Mapping]] = ..., done: _Optional[_Union[JobDone, _Mapping]] = ...) -> None: ...

class FindImagesRequest(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sha256: _Optional[_Iterable[str]] = ...) -> None: ...

class FindImagesResponse(_message.Message):
    __slots__ = ("held",)
    HELD_FIELD_NUMBER: _ClassVar[int]
    held: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, held: _Optional[_Iterable[str]] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...
