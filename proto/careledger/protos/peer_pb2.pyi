from careledger.protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProposalBatch(_message.Message):
    __slots__ = ("proposals", "min_height")
    PROPOSALS_FIELD_NUMBER: _ClassVar[int]
    MIN_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    proposals: _containers.RepeatedCompositeFieldContainer[_common_pb2.SignedProposal]
    min_height: int
    def __init__(self, proposals: _Optional[_Iterable[_Union[_common_pb2.SignedProposal, _Mapping]]] = ..., min_height: _Optional[int] = ...) -> None: ...

class ProposalOutcome(_message.Message):
    __slots__ = ("response", "code", "message")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    response: _common_pb2.ProposalResponse
    code: int
    message: str
    def __init__(self, response: _Optional[_Union[_common_pb2.ProposalResponse, _Mapping]] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ProposalBatchResponse(_message.Message):
    __slots__ = ("outcomes", "height")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[ProposalOutcome]
    height: int
    def __init__(self, outcomes: _Optional[_Iterable[_Union[ProposalOutcome, _Mapping]]] = ..., height: _Optional[int] = ...) -> None: ...
