import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValidationCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALID: _ClassVar[ValidationCode]
    NIL_ENVELOPE: _ClassVar[ValidationCode]
    BAD_PAYLOAD: _ClassVar[ValidationCode]
    BAD_CREATOR_SIGNATURE: _ClassVar[ValidationCode]
    BAD_PROPOSAL_TXID: _ClassVar[ValidationCode]
    DUPLICATE_TXID: _ClassVar[ValidationCode]
    ENDORSEMENT_POLICY_FAILURE: _ClassVar[ValidationCode]
    MVCC_READ_CONFLICT: _ClassVar[ValidationCode]
    PHANTOM_READ_CONFLICT: _ClassVar[ValidationCode]
    BAD_RESPONSE_PAYLOAD: _ClassVar[ValidationCode]
    INVALID_ENDORSER_TRANSACTION: _ClassVar[ValidationCode]
    UNKNOWN_CONTRACT: _ClassVar[ValidationCode]
    BAD_CHANNEL: _ClassVar[ValidationCode]
    EXPIRED_TIMESTAMP: _ClassVar[ValidationCode]
    BAD_CONFIG_UPDATE: _ClassVar[ValidationCode]
    INVALID_OTHER_REASON: _ClassVar[ValidationCode]
VALID: ValidationCode
NIL_ENVELOPE: ValidationCode
BAD_PAYLOAD: ValidationCode
BAD_CREATOR_SIGNATURE: ValidationCode
BAD_PROPOSAL_TXID: ValidationCode
DUPLICATE_TXID: ValidationCode
ENDORSEMENT_POLICY_FAILURE: ValidationCode
MVCC_READ_CONFLICT: ValidationCode
PHANTOM_READ_CONFLICT: ValidationCode
BAD_RESPONSE_PAYLOAD: ValidationCode
INVALID_ENDORSER_TRANSACTION: ValidationCode
UNKNOWN_CONTRACT: ValidationCode
BAD_CHANNEL: ValidationCode
EXPIRED_TIMESTAMP: ValidationCode
BAD_CONFIG_UPDATE: ValidationCode
INVALID_OTHER_REASON: ValidationCode

class Header(_message.Message):
    __slots__ = ("channel", "tx_id", "creator", "nonce", "timestamp")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    channel: str
    tx_id: str
    creator: bytes
    nonce: bytes
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[str] = ..., tx_id: _Optional[str] = ..., creator: _Optional[bytes] = ..., nonce: _Optional[bytes] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Proposal(_message.Message):
    __slots__ = ("header", "contract", "function", "args", "transient")
    class TransientEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TRANSIENT_FIELD_NUMBER: _ClassVar[int]
    header: Header
    contract: str
    function: str
    args: _containers.RepeatedScalarFieldContainer[bytes]
    transient: _containers.ScalarMap[str, bytes]
    def __init__(self, header: _Optional[_Union[Header, _Mapping]] = ..., contract: _Optional[str] = ..., function: _Optional[str] = ..., args: _Optional[_Iterable[bytes]] = ..., transient: _Optional[_Mapping[str, bytes]] = ...) -> None: ...

class SignedProposal(_message.Message):
    __slots__ = ("proposal_bytes", "signature")
    PROPOSAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    proposal_bytes: bytes
    signature: bytes
    def __init__(self, proposal_bytes: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Version(_message.Message):
    __slots__ = ("block_num", "tx_num")
    BLOCK_NUM_FIELD_NUMBER: _ClassVar[int]
    TX_NUM_FIELD_NUMBER: _ClassVar[int]
    block_num: int
    tx_num: int
    def __init__(self, block_num: _Optional[int] = ..., tx_num: _Optional[int] = ...) -> None: ...

class KVRead(_message.Message):
    __slots__ = ("key", "version")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    key: str
    version: Version
    def __init__(self, key: _Optional[str] = ..., version: _Optional[_Union[Version, _Mapping]] = ...) -> None: ...

class KVWrite(_message.Message):
    __slots__ = ("key", "value", "is_delete")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    IS_DELETE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: bytes
    is_delete: bool
    def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ..., is_delete: _Optional[bool] = ...) -> None: ...

class RangeRead(_message.Message):
    __slots__ = ("start_key", "end_key", "reads")
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    start_key: str
    end_key: str
    reads: _containers.RepeatedCompositeFieldContainer[KVRead]
    def __init__(self, start_key: _Optional[str] = ..., end_key: _Optional[str] = ..., reads: _Optional[_Iterable[_Union[KVRead, _Mapping]]] = ...) -> None: ...

class NsReadWriteSet(_message.Message):
    __slots__ = ("namespace", "reads", "writes", "range_reads", "metadata_writes")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    RANGE_READS_FIELD_NUMBER: _ClassVar[int]
    METADATA_WRITES_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    reads: _containers.RepeatedCompositeFieldContainer[KVRead]
    writes: _containers.RepeatedCompositeFieldContainer[KVWrite]
    range_reads: _containers.RepeatedCompositeFieldContainer[RangeRead]
    metadata_writes: _containers.RepeatedCompositeFieldContainer[KVMetadataWrite]
    def __init__(self, namespace: _Optional[str] = ..., reads: _Optional[_Iterable[_Union[KVRead, _Mapping]]] = ..., writes: _Optional[_Iterable[_Union[KVWrite, _Mapping]]] = ..., range_reads: _Optional[_Iterable[_Union[RangeRead, _Mapping]]] = ..., metadata_writes: _Optional[_Iterable[_Union[KVMetadataWrite, _Mapping]]] = ...) -> None: ...

class KVMetadataWrite(_message.Message):
    __slots__ = ("key", "endorsement_policy")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ENDORSEMENT_POLICY_FIELD_NUMBER: _ClassVar[int]
    key: str
    endorsement_policy: str
    def __init__(self, key: _Optional[str] = ..., endorsement_policy: _Optional[str] = ...) -> None: ...

class ReadWriteSet(_message.Message):
    __slots__ = ("ns_rwset",)
    NS_RWSET_FIELD_NUMBER: _ClassVar[int]
    ns_rwset: _containers.RepeatedCompositeFieldContainer[NsReadWriteSet]
    def __init__(self, ns_rwset: _Optional[_Iterable[_Union[NsReadWriteSet, _Mapping]]] = ...) -> None: ...

class ChaincodeEvent(_message.Message):
    __slots__ = ("contract", "tx_id", "event_name", "payload")
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    contract: str
    tx_id: str
    event_name: str
    payload: bytes
    def __init__(self, contract: _Optional[str] = ..., tx_id: _Optional[str] = ..., event_name: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("status", "message", "payload")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    status: int
    message: str
    payload: bytes
    def __init__(self, status: _Optional[int] = ..., message: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ProposalResponsePayload(_message.Message):
    __slots__ = ("proposal_hash", "response", "rwset", "event")
    PROPOSAL_HASH_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    RWSET_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    proposal_hash: bytes
    response: Response
    rwset: ReadWriteSet
    event: ChaincodeEvent
    def __init__(self, proposal_hash: _Optional[bytes] = ..., response: _Optional[_Union[Response, _Mapping]] = ..., rwset: _Optional[_Union[ReadWriteSet, _Mapping]] = ..., event: _Optional[_Union[ChaincodeEvent, _Mapping]] = ...) -> None: ...

class Endorsement(_message.Message):
    __slots__ = ("endorser", "signature")
    ENDORSER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    endorser: bytes
    signature: bytes
    def __init__(self, endorser: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ProposalResponse(_message.Message):
    __slots__ = ("response", "payload", "endorsement")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ENDORSEMENT_FIELD_NUMBER: _ClassVar[int]
    response: Response
    payload: bytes
    endorsement: Endorsement
    def __init__(self, response: _Optional[_Union[Response, _Mapping]] = ..., payload: _Optional[bytes] = ..., endorsement: _Optional[_Union[Endorsement, _Mapping]] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("proposal", "response_payload", "endorsements")
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ENDORSEMENTS_FIELD_NUMBER: _ClassVar[int]
    proposal: bytes
    response_payload: bytes
    endorsements: _containers.RepeatedCompositeFieldContainer[Endorsement]
    def __init__(self, proposal: _Optional[bytes] = ..., response_payload: _Optional[bytes] = ..., endorsements: _Optional[_Iterable[_Union[Endorsement, _Mapping]]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class BlockHeader(_message.Message):
    __slots__ = ("number", "previous_hash", "data_hash", "timestamp")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_HASH_FIELD_NUMBER: _ClassVar[int]
    DATA_HASH_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    number: int
    previous_hash: bytes
    data_hash: bytes
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, number: _Optional[int] = ..., previous_hash: _Optional[bytes] = ..., data_hash: _Optional[bytes] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BlockData(_message.Message):
    __slots__ = ("envelopes",)
    ENVELOPES_FIELD_NUMBER: _ClassVar[int]
    envelopes: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, envelopes: _Optional[_Iterable[bytes]] = ...) -> None: ...

class BlockMetadata(_message.Message):
    __slots__ = ("orderer", "signature", "validation_codes", "last_config")
    ORDERER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_CODES_FIELD_NUMBER: _ClassVar[int]
    LAST_CONFIG_FIELD_NUMBER: _ClassVar[int]
    orderer: bytes
    signature: bytes
    validation_codes: _containers.RepeatedScalarFieldContainer[ValidationCode]
    last_config: int
    def __init__(self, orderer: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., validation_codes: _Optional[_Iterable[_Union[ValidationCode, str]]] = ..., last_config: _Optional[int] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("header", "data", "metadata")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    header: BlockHeader
    data: BlockData
    metadata: BlockMetadata
    def __init__(self, header: _Optional[_Union[BlockHeader, _Mapping]] = ..., data: _Optional[_Union[BlockData, _Mapping]] = ..., metadata: _Optional[_Union[BlockMetadata, _Mapping]] = ...) -> None: ...

class Signed(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...
