import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from careledger.protos import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LifecycleRequest(_message.Message):
    __slots__ = ("creator", "timestamp", "install", "query_installed")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    INSTALL_FIELD_NUMBER: _ClassVar[int]
    QUERY_INSTALLED_FIELD_NUMBER: _ClassVar[int]
    creator: bytes
    timestamp: _timestamp_pb2.Timestamp
    install: bytes
    query_installed: bool
    def __init__(self, creator: _Optional[bytes] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., install: _Optional[bytes] = ..., query_installed: _Optional[bool] = ...) -> None: ...

class InstalledPackage(_message.Message):
    __slots__ = ("package_id", "name", "version", "entry")
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    name: str
    version: str
    entry: str
    def __init__(self, package_id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., entry: _Optional[str] = ...) -> None: ...

class InstallResponse(_message.Message):
    __slots__ = ("package", "already_installed", "peer")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    ALREADY_INSTALLED_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    package: InstalledPackage
    already_installed: bool
    peer: str
    def __init__(self, package: _Optional[_Union[InstalledPackage, _Mapping]] = ..., already_installed: _Optional[bool] = ..., peer: _Optional[str] = ...) -> None: ...

class QueryInstalledResponse(_message.Message):
    __slots__ = ("packages", "peer")
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedCompositeFieldContainer[InstalledPackage]
    peer: str
    def __init__(self, packages: _Optional[_Iterable[_Union[InstalledPackage, _Mapping]]] = ..., peer: _Optional[str] = ...) -> None: ...
