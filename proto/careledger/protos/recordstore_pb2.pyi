from careledger.protos import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordOperation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECORD_OPERATION_UNSPECIFIED: _ClassVar[RecordOperation]
    RECORD_PUT: _ClassVar[RecordOperation]
    RECORD_GET: _ClassVar[RecordOperation]
    RECORD_ERASE: _ClassVar[RecordOperation]
RECORD_OPERATION_UNSPECIFIED: RecordOperation
RECORD_PUT: RecordOperation
RECORD_GET: RecordOperation
RECORD_ERASE: RecordOperation

class RecordRequest(_message.Message):
    __slots__ = ("operation", "channel", "creator", "record_id", "access_tx_id", "patient", "content")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TX_ID_FIELD_NUMBER: _ClassVar[int]
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    operation: RecordOperation
    channel: str
    creator: bytes
    record_id: str
    access_tx_id: str
    patient: str
    content: bytes
    def __init__(self, operation: _Optional[_Union[RecordOperation, str]] = ..., channel: _Optional[str] = ..., creator: _Optional[bytes] = ..., record_id: _Optional[str] = ..., access_tx_id: _Optional[str] = ..., patient: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class PutRecordResponse(_message.Message):
    __slots__ = ("patient", "record_id", "content_hash", "size")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    patient: str
    record_id: str
    content_hash: str
    size: int
    def __init__(self, patient: _Optional[str] = ..., record_id: _Optional[str] = ..., content_hash: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class GetRecordResponse(_message.Message):
    __slots__ = ("patient", "record_id", "content", "content_hash", "salt")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    patient: str
    record_id: str
    content: bytes
    content_hash: str
    salt: bytes
    def __init__(self, patient: _Optional[str] = ..., record_id: _Optional[str] = ..., content: _Optional[bytes] = ..., content_hash: _Optional[str] = ..., salt: _Optional[bytes] = ...) -> None: ...

class EraseRecordResponse(_message.Message):
    __slots__ = ("patient", "record_id")
    PATIENT_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    patient: str
    record_id: str
    def __init__(self, patient: _Optional[str] = ..., record_id: _Optional[str] = ...) -> None: ...
