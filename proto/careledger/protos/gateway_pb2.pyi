from careledger.protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EvaluateRequest(_message.Message):
    __slots__ = ("tx_id", "channel", "proposed_transaction", "target_organizations")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    tx_id: str
    channel: str
    proposed_transaction: _common_pb2.SignedProposal
    target_organizations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tx_id: _Optional[str] = ..., channel: _Optional[str] = ..., proposed_transaction: _Optional[_Union[_common_pb2.SignedProposal, _Mapping]] = ..., target_organizations: _Optional[_Iterable[str]] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.Response
    def __init__(self, result: _Optional[_Union[_common_pb2.Response, _Mapping]] = ...) -> None: ...

class EndorseRequest(_message.Message):
    __slots__ = ("tx_id", "channel", "proposed_transaction", "endorsing_organizations")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ENDORSING_ORGANIZATIONS_FIELD_NUMBER: _ClassVar[int]
    tx_id: str
    channel: str
    proposed_transaction: _common_pb2.SignedProposal
    endorsing_organizations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tx_id: _Optional[str] = ..., channel: _Optional[str] = ..., proposed_transaction: _Optional[_Union[_common_pb2.SignedProposal, _Mapping]] = ..., endorsing_organizations: _Optional[_Iterable[str]] = ...) -> None: ...

class EndorseResponse(_message.Message):
    __slots__ = ("prepared_transaction", "result")
    PREPARED_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    prepared_transaction: _common_pb2.Envelope
    result: _common_pb2.Response
    def __init__(self, prepared_transaction: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., result: _Optional[_Union[_common_pb2.Response, _Mapping]] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("tx_id", "channel", "prepared_transaction", "wait_for_commit")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PREPARED_TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_COMMIT_FIELD_NUMBER: _ClassVar[int]
    tx_id: str
    channel: str
    prepared_transaction: _common_pb2.Envelope
    wait_for_commit: bool
    def __init__(self, tx_id: _Optional[str] = ..., channel: _Optional[str] = ..., prepared_transaction: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., wait_for_commit: _Optional[bool] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("commit",)
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    commit: CommitStatusResponse
    def __init__(self, commit: _Optional[_Union[CommitStatusResponse, _Mapping]] = ...) -> None: ...

class CommitStatusRequest(_message.Message):
    __slots__ = ("channel", "tx_id", "identity")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    channel: str
    tx_id: str
    identity: bytes
    def __init__(self, channel: _Optional[str] = ..., tx_id: _Optional[str] = ..., identity: _Optional[bytes] = ...) -> None: ...

class CommitStatusResponse(_message.Message):
    __slots__ = ("result", "block_number")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.ValidationCode
    block_number: int
    def __init__(self, result: _Optional[_Union[_common_pb2.ValidationCode, str]] = ..., block_number: _Optional[int] = ...) -> None: ...

class ChaincodeEventsRequest(_message.Message):
    __slots__ = ("channel", "contract", "identity", "start_block", "after_transaction_id")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    START_BLOCK_FIELD_NUMBER: _ClassVar[int]
    AFTER_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    channel: str
    contract: str
    identity: bytes
    start_block: int
    after_transaction_id: str
    def __init__(self, channel: _Optional[str] = ..., contract: _Optional[str] = ..., identity: _Optional[bytes] = ..., start_block: _Optional[int] = ..., after_transaction_id: _Optional[str] = ...) -> None: ...

class ChaincodeEventsResponse(_message.Message):
    __slots__ = ("block_number", "events")
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    block_number: int
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.ChaincodeEvent]
    def __init__(self, block_number: _Optional[int] = ..., events: _Optional[_Iterable[_Union[_common_pb2.ChaincodeEvent, _Mapping]]] = ...) -> None: ...

class BlockEventsRequest(_message.Message):
    __slots__ = ("channel", "identity", "start_block", "filtered")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    START_BLOCK_FIELD_NUMBER: _ClassVar[int]
    FILTERED_FIELD_NUMBER: _ClassVar[int]
    channel: str
    identity: bytes
    start_block: int
    filtered: bool
    def __init__(self, channel: _Optional[str] = ..., identity: _Optional[bytes] = ..., start_block: _Optional[int] = ..., filtered: _Optional[bool] = ...) -> None: ...

class FilteredTransaction(_message.Message):
    __slots__ = ("tx_id", "validation_code")
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_CODE_FIELD_NUMBER: _ClassVar[int]
    tx_id: str
    validation_code: _common_pb2.ValidationCode
    def __init__(self, tx_id: _Optional[str] = ..., validation_code: _Optional[_Union[_common_pb2.ValidationCode, str]] = ...) -> None: ...

class FilteredBlock(_message.Message):
    __slots__ = ("number", "transactions")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    number: int
    transactions: _containers.RepeatedCompositeFieldContainer[FilteredTransaction]
    def __init__(self, number: _Optional[int] = ..., transactions: _Optional[_Iterable[_Union[FilteredTransaction, _Mapping]]] = ...) -> None: ...

class BlockEventsResponse(_message.Message):
    __slots__ = ("block", "filtered_block")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    FILTERED_BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: _common_pb2.Block
    filtered_block: FilteredBlock
    def __init__(self, block: _Optional[_Union[_common_pb2.Block, _Mapping]] = ..., filtered_block: _Optional[_Union[FilteredBlock, _Mapping]] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("address", "org", "message")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    address: str
    org: str
    message: str
    def __init__(self, address: _Optional[str] = ..., org: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ErrorDetails(_message.Message):
    __slots__ = ("details",)
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    details: _containers.RepeatedCompositeFieldContainer[ErrorDetail]
    def __init__(self, details: _Optional[_Iterable[_Union[ErrorDetail, _Mapping]]] = ...) -> None: ...

class GatewayCall(_message.Message):
    __slots__ = ("evaluate", "endorse", "submit")
    EVALUATE_FIELD_NUMBER: _ClassVar[int]
    ENDORSE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    evaluate: EvaluateRequest
    endorse: EndorseRequest
    submit: SubmitRequest
    def __init__(self, evaluate: _Optional[_Union[EvaluateRequest, _Mapping]] = ..., endorse: _Optional[_Union[EndorseRequest, _Mapping]] = ..., submit: _Optional[_Union[SubmitRequest, _Mapping]] = ...) -> None: ...

class GatewayOutcome(_message.Message):
    __slots__ = ("code", "message", "error_details", "evaluate", "endorse", "submit")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_DETAILS_FIELD_NUMBER: _ClassVar[int]
    EVALUATE_FIELD_NUMBER: _ClassVar[int]
    ENDORSE_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    error_details: bytes
    evaluate: EvaluateResponse
    endorse: EndorseResponse
    submit: SubmitResponse
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., error_details: _Optional[bytes] = ..., evaluate: _Optional[_Union[EvaluateResponse, _Mapping]] = ..., endorse: _Optional[_Union[EndorseResponse, _Mapping]] = ..., submit: _Optional[_Union[SubmitResponse, _Mapping]] = ...) -> None: ...

class GatewayBatch(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[GatewayCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[GatewayCall, _Mapping]]] = ...) -> None: ...

class GatewayBatchResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[GatewayOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[GatewayOutcome, _Mapping]]] = ...) -> None: ...
