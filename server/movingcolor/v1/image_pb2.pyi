from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_PLATE: _ClassVar[Role]
    ROLE_MATTE: _ClassVar[Role]
    ROLE_GRADED: _ClassVar[Role]
    ROLE_EDITED: _ClassVar[Role]
    ROLE_FUSED: _ClassVar[Role]

class Encoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCODING_UNSPECIFIED: _ClassVar[Encoding]
    ENCODING_FILE: _ClassVar[Encoding]
    ENCODING_RAW: _ClassVar[Encoding]

class SampleType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SAMPLE_TYPE_UNSPECIFIED: _ClassVar[SampleType]
    SAMPLE_TYPE_HALF: _ClassVar[SampleType]
    SAMPLE_TYPE_FLOAT: _ClassVar[SampleType]
ROLE_UNSPECIFIED: Role
ROLE_PLATE: Role
ROLE_MATTE: Role
ROLE_GRADED: Role
ROLE_EDITED: Role
ROLE_FUSED: Role
ENCODING_UNSPECIFIED: Encoding
ENCODING_FILE: Encoding
ENCODING_RAW: Encoding
SAMPLE_TYPE_UNSPECIFIED: SampleType
SAMPLE_TYPE_HALF: SampleType
SAMPLE_TYPE_FLOAT: SampleType

class ImageInfo(_message.Message):
    __slots__ = ("encoding", "format", "width", "height", "channels", "sample_type", "colorspace", "byte_size", "attributes", "sha256", "cached")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_TYPE_FIELD_NUMBER: _ClassVar[int]
    COLORSPACE_FIELD_NUMBER: _ClassVar[int]
    BYTE_SIZE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    encoding: Encoding
    format: str
    width: int
    height: int
    channels: _containers.RepeatedScalarFieldContainer[str]
    sample_type: SampleType
    colorspace: str
    byte_size: int
    attributes: _containers.ScalarMap[str, str]
    sha256: str
    cached: bool
    def __init__(self, encoding: _Optional[_Union[Encoding, str]] = ..., format: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., channels: _Optional[_Iterable[str]] = ..., sample_type: _Optional[_Union[SampleType, str]] = ..., colorspace: _Optional[str] = ..., byte_size: _Optional[int] = ..., attributes: _Optional[_Mapping[str, str]] = ..., sha256: _Optional[str] = ..., cached: _Optional[bool] = ...) -> None: ...

class ImagePart(_message.Message):
    __slots__ = ("role", "frame", "info", "data")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    role: Role
    frame: int
    info: ImageInfo
    data: bytes
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., frame: _Optional[int] = ..., info: _Optional[_Union[ImageInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class FrameRange(_message.Message):
    __slots__ = ("first", "last")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    first: int
    last: int
    def __init__(self, first: _Optional[int] = ..., last: _Optional[int] = ...) -> None: ...
