from careledger.protos import common_pb2 as _common_pb2
from careledger.protos import config_pb2 as _config_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryRequest(_message.Message):
    __slots__ = ("channel", "creator", "block_number", "tx_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    creator: bytes
    block_number: int
    tx_id: str
    def __init__(self, channel: _Optional[str] = ..., creator: _Optional[bytes] = ..., block_number: _Optional[int] = ..., tx_id: _Optional[str] = ...) -> None: ...

class ChainInfo(_message.Message):
    __slots__ = ("height", "current_block_hash", "previous_block_hash")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    height: int
    current_block_hash: bytes
    previous_block_hash: bytes
    def __init__(self, height: _Optional[int] = ..., current_block_hash: _Optional[bytes] = ..., previous_block_hash: _Optional[bytes] = ...) -> None: ...

class CommitInfo(_message.Message):
    __slots__ = ("block_number", "commit_hash", "state_digest", "header_hash")
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    COMMIT_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    HEADER_HASH_FIELD_NUMBER: _ClassVar[int]
    block_number: int
    commit_hash: bytes
    state_digest: bytes
    header_hash: bytes
    def __init__(self, block_number: _Optional[int] = ..., commit_hash: _Optional[bytes] = ..., state_digest: _Optional[bytes] = ..., header_hash: _Optional[bytes] = ...) -> None: ...

class ProcessedTransaction(_message.Message):
    __slots__ = ("envelope", "validation_code", "block_number")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_CODE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.Envelope
    validation_code: _common_pb2.ValidationCode
    block_number: int
    def __init__(self, envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., validation_code: _Optional[_Union[_common_pb2.ValidationCode, str]] = ..., block_number: _Optional[int] = ...) -> None: ...
