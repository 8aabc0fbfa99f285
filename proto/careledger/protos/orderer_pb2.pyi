from careledger.protos import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BroadcastResponse(_message.Message):
    __slots__ = ("status", "info")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    status: int
    info: str
    def __init__(self, status: _Optional[int] = ..., info: _Optional[str] = ...) -> None: ...

class SeekRequest(_message.Message):
    __slots__ = ("channel", "creator", "start", "follow", "stop")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    channel: str
    creator: bytes
    start: int
    follow: bool
    stop: int
    def __init__(self, channel: _Optional[str] = ..., creator: _Optional[bytes] = ..., start: _Optional[int] = ..., follow: _Optional[bool] = ..., stop: _Optional[int] = ...) -> None: ...
