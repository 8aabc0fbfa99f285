from careledger.protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Endpoint(_message.Message):
    __slots__ = ("name", "org", "host", "port")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    name: str
    org: str
    host: str
    port: int
    def __init__(self, name: _Optional[str] = ..., org: _Optional[str] = ..., host: _Optional[str] = ..., port: _Optional[int] = ...) -> None: ...

class OrgConfig(_message.Message):
    __slots__ = ("name", "ca_cert", "revoked_serials", "peers", "orderer_org")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CA_CERT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_SERIALS_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    ORDERER_ORG_FIELD_NUMBER: _ClassVar[int]
    name: str
    ca_cert: bytes
    revoked_serials: _containers.RepeatedScalarFieldContainer[str]
    peers: _containers.RepeatedCompositeFieldContainer[Endpoint]
    orderer_org: bool
    def __init__(self, name: _Optional[str] = ..., ca_cert: _Optional[bytes] = ..., revoked_serials: _Optional[_Iterable[str]] = ..., peers: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., orderer_org: _Optional[bool] = ...) -> None: ...

class ChannelPolicies(_message.Message):
    __slots__ = ("admins", "lifecycle")
    ADMINS_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    admins: str
    lifecycle: str
    def __init__(self, admins: _Optional[str] = ..., lifecycle: _Optional[str] = ...) -> None: ...

class AccessConfig(_message.Message):
    __slots__ = ("query", "block_events", "deliver")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    BLOCK_EVENTS_FIELD_NUMBER: _ClassVar[int]
    DELIVER_FIELD_NUMBER: _ClassVar[int]
    query: _containers.RepeatedScalarFieldContainer[str]
    block_events: _containers.RepeatedScalarFieldContainer[str]
    deliver: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, query: _Optional[_Iterable[str]] = ..., block_events: _Optional[_Iterable[str]] = ..., deliver: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchConfig(_message.Message):
    __slots__ = ("max_tx", "max_bytes", "timeout_ms")
    MAX_TX_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    max_tx: int
    max_bytes: int
    timeout_ms: int
    def __init__(self, max_tx: _Optional[int] = ..., max_bytes: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class ChannelConfig(_message.Message):
    __slots__ = ("channel", "sequence", "orgs", "orderers", "policies", "access", "batch", "clock_skew_s")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ORGS_FIELD_NUMBER: _ClassVar[int]
    ORDERERS_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    CLOCK_SKEW_S_FIELD_NUMBER: _ClassVar[int]
    channel: str
    sequence: int
    orgs: _containers.RepeatedCompositeFieldContainer[OrgConfig]
    orderers: _containers.RepeatedCompositeFieldContainer[Endpoint]
    policies: ChannelPolicies
    access: AccessConfig
    batch: BatchConfig
    clock_skew_s: float
    def __init__(self, channel: _Optional[str] = ..., sequence: _Optional[int] = ..., orgs: _Optional[_Iterable[_Union[OrgConfig, _Mapping]]] = ..., orderers: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., policies: _Optional[_Union[ChannelPolicies, _Mapping]] = ..., access: _Optional[_Union[AccessConfig, _Mapping]] = ..., batch: _Optional[_Union[BatchConfig, _Mapping]] = ..., clock_skew_s: _Optional[float] = ...) -> None: ...

class ConfigUpdate(_message.Message):
    __slots__ = ("channel", "sequence", "config")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    channel: str
    sequence: int
    config: ChannelConfig
    def __init__(self, channel: _Optional[str] = ..., sequence: _Optional[int] = ..., config: _Optional[_Union[ChannelConfig, _Mapping]] = ...) -> None: ...

class SignedConfigUpdate(_message.Message):
    __slots__ = ("update", "signatures")
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    update: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[_common_pb2.Endorsement]
    def __init__(self, update: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[_common_pb2.Endorsement, _Mapping]]] = ...) -> None: ...
