import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from careledger.protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CARequest(_message.Message):
    __slots__ = ("creator", "timestamp", "register", "reenroll", "revoke", "list")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    REENROLL_FIELD_NUMBER: _ClassVar[int]
    REVOKE_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    creator: bytes
    timestamp: _timestamp_pb2.Timestamp
    register: RegisterRequest
    reenroll: ReenrollRequest
    revoke: RevokeRequest
    list: ListRequest
    def __init__(self, creator: _Optional[bytes] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., register: _Optional[_Union[RegisterRequest, _Mapping]] = ..., reenroll: _Optional[_Union[ReenrollRequest, _Mapping]] = ..., revoke: _Optional[_Union[RevokeRequest, _Mapping]] = ..., list: _Optional[_Union[ListRequest, _Mapping]] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("name", "role", "attributes", "reset")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    attributes: _containers.ScalarMap[str, str]
    reset: bool
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., reset: _Optional[bool] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("name", "secret")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    name: str
    secret: str
    def __init__(self, name: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class EnrollRequest(_message.Message):
    __slots__ = ("name", "secret", "csr", "tls_csr")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    CSR_FIELD_NUMBER: _ClassVar[int]
    TLS_CSR_FIELD_NUMBER: _ClassVar[int]
    name: str
    secret: str
    csr: bytes
    tls_csr: bytes
    def __init__(self, name: _Optional[str] = ..., secret: _Optional[str] = ..., csr: _Optional[bytes] = ..., tls_csr: _Optional[bytes] = ...) -> None: ...

class ReenrollRequest(_message.Message):
    __slots__ = ("csr",)
    CSR_FIELD_NUMBER: _ClassVar[int]
    csr: bytes
    def __init__(self, csr: _Optional[bytes] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("certificate", "ca_certificate", "serial", "tls_certificate")
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    TLS_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    certificate: bytes
    ca_certificate: bytes
    serial: str
    tls_certificate: bytes
    def __init__(self, certificate: _Optional[bytes] = ..., ca_certificate: _Optional[bytes] = ..., serial: _Optional[str] = ..., tls_certificate: _Optional[bytes] = ...) -> None: ...

class RevokeRequest(_message.Message):
    __slots__ = ("name", "serials", "certificate", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SERIALS_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    serials: _containers.RepeatedScalarFieldContainer[str]
    certificate: bytes
    reason: str
    def __init__(self, name: _Optional[str] = ..., serials: _Optional[_Iterable[str]] = ..., certificate: _Optional[bytes] = ..., reason: _Optional[str] = ...) -> None: ...

class RevokedCertificate(_message.Message):
    __slots__ = ("serial", "name", "reason", "revoked_at")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    serial: str
    name: str
    reason: str
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, serial: _Optional[str] = ..., name: _Optional[str] = ..., reason: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeResponse(_message.Message):
    __slots__ = ("revoked", "crl")
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    CRL_FIELD_NUMBER: _ClassVar[int]
    revoked: _containers.RepeatedCompositeFieldContainer[RevokedCertificate]
    crl: bytes
    def __init__(self, revoked: _Optional[_Iterable[_Union[RevokedCertificate, _Mapping]]] = ..., crl: _Optional[bytes] = ...) -> None: ...

class CRLRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CRLResponse(_message.Message):
    __slots__ = ("crl",)
    CRL_FIELD_NUMBER: _ClassVar[int]
    crl: bytes
    def __init__(self, crl: _Optional[bytes] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IssuedCertificate(_message.Message):
    __slots__ = ("serial", "not_before", "not_after", "revocation_reason")
    SERIAL_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    serial: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    revocation_reason: str
    def __init__(self, serial: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revocation_reason: _Optional[str] = ...) -> None: ...

class Registration(_message.Message):
    __slots__ = ("name", "role", "attributes", "registered_by", "registered_at", "state", "certificates")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_BY_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    attributes: _containers.ScalarMap[str, str]
    registered_by: str
    registered_at: _timestamp_pb2.Timestamp
    state: str
    certificates: _containers.RepeatedCompositeFieldContainer[IssuedCertificate]
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ..., registered_by: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[str] = ..., certificates: _Optional[_Iterable[_Union[IssuedCertificate, _Mapping]]] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("registrations",)
    REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    registrations: _containers.RepeatedCompositeFieldContainer[Registration]
    def __init__(self, registrations: _Optional[_Iterable[_Union[Registration, _Mapping]]] = ...) -> None: ...
