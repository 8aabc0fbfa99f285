"""RecordStore: put, get and erase encrypted off-ledger records on the peer that hosts them.

A record is named like on the ledger, by (patient, record id). Reading needs the tx id of the
caller's committed `consent access_record` transaction that granted the record, so every read
leaves an audit event on the ledger first.

    with connect_local_records(directory, "hospital:alice") as records:
        stored = records.put("r-lab", document)   # then register stored.content_hash on the ledger
        record = records.get("r-lab", access_tx_id)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from careledger.gateway.errors import GatewayError, from_rpc_error
from careledger.gateway.identity import Identity, Signer, sha256
from careledger.gateway.local import local_peer, records_host_org
from careledger.protos import common_pb2, recordstore_pb2, recordstore_pb2_grpc

_Response = TypeVar("_Response", bound=Message)
# A Get answer is the document (up to the store's limit, 4 MiB) plus a little; allow ample room.
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class RecordStoreError(GatewayError):
    """A record store call failed: PERMISSION_DENIED (no valid access transaction, or not the
    patient), NOT_FOUND (no such record, or erased), INVALID_ARGUMENT, RESOURCE_EXHAUSTED (too big)."""


@dataclass(frozen=True)
class StoredRecord:
    """What Put stored: register content_hash on the ledger with consent register_record."""

    patient: str
    record_id: str
    content_hash: str
    size: int


@dataclass(frozen=True)
class Record:
    """A record read from the store; content_hash is SHA-256(salt || content), checked on arrival
    and equal to the hash the patient registered on the ledger."""

    patient: str
    record_id: str
    content: bytes
    content_hash: str
    salt: bytes = b""
    """The record's salt: an edit's new content hash is SHA-256(salt || new content)."""


class RecordStore:
    """The record store of one peer, used as one identity; close() it (or use `with`)."""

    def __init__(
        self,
        channel: grpc.Channel,
        address: str,
        identity: Identity,
        signer: Signer,
        network: str,
        timeout: float = 30.0,
    ) -> None:
        self._channel = channel
        self._stub = recordstore_pb2_grpc.RecordStoreStub(channel)
        self.address = address
        self.identity = identity
        self.network = network
        self._signer = signer
        self._timeout = timeout

    def put(
        self, record_id: str, content: bytes, *, patient: str = "", access_tx_id: str = ""
    ) -> StoredRecord:
        """Store a document: a patient stores their own new record; an edit (by anyone, the
        patient too) names the patient and the tx id of the caller's granted, committed consent
        correct_record, whose content hash the document must have."""
        request = self._request(
            recordstore_pb2.RECORD_PUT, record_id, patient, access_tx_id, content=content
        )
        response: recordstore_pb2.PutRecordResponse = self._call(
            self._stub.Put, request, "put", record_id, access_tx_id
        )
        return StoredRecord(response.patient, response.record_id, response.content_hash, response.size)

    def get(self, record_id: str, access_tx_id: str, *, patient: str = "") -> Record:
        """The document, if access_tx_id is the caller's committed access_record that granted it."""
        request = self._request(recordstore_pb2.RECORD_GET, record_id, patient, access_tx_id)
        response: recordstore_pb2.GetRecordResponse = self._call(
            self._stub.Get, request, "get", record_id, access_tx_id
        )
        if hashlib.sha256(response.salt + response.content).hexdigest() != response.content_hash:
            raise RecordStoreError(
                f"record {record_id} arrived with content that does not match its hash; retry",
                code=grpc.StatusCode.DATA_LOSS, tx_id=access_tx_id, stage="records get",
            )
        return Record(response.patient, response.record_id, response.content, response.content_hash,
                      response.salt)

    def erase(self, record_id: str, *, patient: str = "") -> None:
        """Destroy the document and its key (the patient, or an admin of the patient's org);
        the ledger's tombstone is consent erase_record's job."""
        request = self._request(recordstore_pb2.RECORD_ERASE, record_id, patient, "")
        self._call(self._stub.Erase, request, "erase", record_id, "")

    def close(self) -> None:
        """Close the gRPC channel."""
        self._channel.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(
        self,
        operation: recordstore_pb2.RecordOperation,
        record_id: str,
        patient: str,
        access_tx_id: str,
        content: bytes = b"",
    ) -> common_pb2.Signed:
        payload = recordstore_pb2.RecordRequest(
            operation=operation,
            channel=self.network,
            creator=self.identity.certificate,
            record_id=record_id,
            access_tx_id=access_tx_id,
            patient=patient,
            content=content,
        ).SerializeToString(deterministic=True)
        return common_pb2.Signed(payload=payload, signature=self._signer(sha256(payload)))

    def _call(
        self,
        method: grpc.UnaryUnaryMultiCallable[common_pb2.Signed, _Response],
        request: common_pb2.Signed,
        verb: str,
        record_id: str,
        access_tx_id: str,
    ) -> _Response:
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as err:
            error = from_rpc_error(
                err, RecordStoreError, stage=f"records {verb}", tx_id=access_tx_id,
                address=self.address, timeout=self._timeout,
            )
            if error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and record_id not in error.message:
                # gRPC's own size limit answered before the store could name the record.
                error = RecordStoreError(
                    f"record {record_id} is too large for peer {self.address} ({error.message}); "
                    "store the document in parts",
                    code=error.code, tx_id=access_tx_id, stage=error.stage,
                )
            raise error from err


def connect_records(
    address: str,
    identity: Identity,
    signer: Signer,
    *,
    network: str,
    tls_root_certificates: bytes,
    tls_client_certificate: bytes | None = None,
    tls_client_key: bytes | None = None,
    server_name: str | None = None,
    timeout: float = 30.0,
) -> RecordStore:
    """Connect over TLS to the record store of the peer at address, for channel `network`;
    CareLedger peers require a TLS client certificate and key (mutual TLS)."""
    options = [
        ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
    ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))  # type: ignore[arg-type]
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls_root_certificates, private_key=tls_client_key,
        certificate_chain=tls_client_certificate)
    channel = grpc.secure_channel(address, credentials, options=options)
    return RecordStore(channel, address, identity, signer, network, timeout)


def connect_local_records(
    directory: Path | str,
    who: str = "hospital:admin",
    *,
    peer: str | None = None,
    host_org: str | None = None,
    timeout: float = 30.0,
) -> RecordStore:
    """The record store on host_org's first peer (or `peer`) as ORG:USER of a local network.

    host_org defaults to the org the network's profile names to host the store ([records] host_org).
    """
    local = local_peer(directory, who, peer, {}, peer_org=host_org or records_host_org(directory))
    return connect_records(
        local.address, local.identity, local.signer, network=local.channel,
        tls_root_certificates=local.settings["tls_root_certificates"],
        tls_client_certificate=local.settings.get("tls_client_certificate"),
        tls_client_key=local.settings.get("tls_client_key"),
        server_name=local.settings.get("server_name"), timeout=timeout,
    )
