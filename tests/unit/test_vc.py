"""Licences as VC-JOSE credentials: real P-256 keys and CAs in tmp folders, no network."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from careledger.cli.credentials import credentials
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.signing import Signer
from careledger.network.identity.vc import (
    MIN_STATUS_BITS,
    Failure,
    VerificationError,
    _b64,
    _raw_signature,
    bit_is_set,
    decode_bitstring,
    encode_bitstring,
    issue_credential,
    status_list_credential,
    verify_credential,
)

NOW = datetime.now(UTC)
LIST = "urn:careledger:credentials:status"
BOARD = [
    IdentitySpec("rita", "client", {"role": "registrar"}),
    IdentitySpec("carl", "client", {"role": "clerk"}),
]


@dataclass(frozen=True)
class Board:
    ca_pem: bytes
    rita: Signer
    carl: Signer
    ca_file: Path


def make_board(root: Path) -> Board:
    generate_org(root, "board", BOARD)
    return Board(
        ca_pem=(root / "board" / "ca" / "cert.pem").read_bytes(),
        rita=Signer.from_dir(root / "board" / "rita"),
        carl=Signer.from_dir(root / "board" / "carl"),
        ca_file=root / "board" / "ca" / "cert.pem",
    )


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    return make_board(tmp_path_factory.mktemp("crypto"))


def licence(
    valid_from: datetime = NOW - timedelta(days=30),
    valid_until: datetime = NOW + timedelta(days=30),
    index: int = 7,
) -> dict:
    """The shape credentials.credential_document returns."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "PractitionerLicenseCredential"],
        "issuer": "urn:careledger:org:board",
        "validFrom": valid_from.isoformat(),
        "validUntil": valid_until.isoformat(),
        "credentialSubject": {
            "id": "urn:careledger:practitioner:hospital/drsmith",
            "license": "MD-1001",
            "qualification": "MD",
            "jurisdiction": "US-CA",
            "specialties": [],
        },
        "credentialStatus": [
            {
                "id": f"{LIST}/{purpose}#{index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": f"{LIST}/{purpose}",
            }
            for purpose in ("revocation", "suspension")
        ],
    }


def status_list(signer: Signer, indices: list[int], purpose: str = "revocation") -> str:
    document = status_list_credential(f"{LIST}/{purpose}", purpose, indices, "urn:careledger:org:board", NOW)
    return issue_credential(document, signer)


def part(token: str, n: int) -> dict:
    text = token.split(".")[n]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def with_part(token: str, n: int, value: dict) -> str:
    parts = token.split(".")
    parts[n] = base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return ".".join(parts)


def failure(token: str, ca_pem: bytes, **kwargs: object) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_credential(token, ca_pem, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_signed_licence_verifies_with_only_the_board_ca(board):
    token = issue_credential(licence(), board.rita)
    verified = verify_credential(token, board.ca_pem)
    assert verified.credential == licence()
    assert verified.signer.id == "board/rita"
    assert verified.status is None
    header = part(token, 0)
    assert (header["alg"], header["typ"], header["cty"]) == ("ES256", "vc+jwt", "vc")


def test_jws_carries_the_signer_certificate_and_a_raw_64_byte_signature(board):
    token = issue_credential(licence(), board.rita)
    der = base64.b64decode(part(token, 0)["x5c"][0], validate=True)
    cert = x509.load_der_x509_certificate(der)
    assert cert.public_bytes(serialization.Encoding.PEM) == board.rita.cert_pem
    signature = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 64


def test_changed_payload_is_a_bad_signature(board):
    token = issue_credential(licence(), board.rita)
    forged = part(token, 1)
    forged["credentialSubject"]["license"] = "MD-9999"
    error = failure(with_part(token, 1, forged), board.ca_pem)
    assert error.failure is Failure.BAD_SIGNATURE
    assert "signature does not verify for board/rita" in str(error)


def test_certificate_from_another_ca_of_the_same_org_name_is_an_unknown_issuer(board, tmp_path):
    impostor = make_board(tmp_path)
    token = issue_credential(licence(), impostor.rita)
    error = failure(token, board.ca_pem)
    assert error.failure is Failure.UNKNOWN_ISSUER
    assert "was not issued by the CA of org 'board'" in str(error)


def test_a_board_member_without_the_registrar_role_is_an_unknown_issuer(board):
    with pytest.raises(IdentityError, match="board/carl has role 'clerk', not 'registrar'"):
        issue_credential(licence(), board.carl)
    # the same document signed by carl by hand still fails at the verifier
    token = issue_credential(licence(), board.rita)
    header = part(token, 0) | {"x5c": [base64.b64encode(_der(board.carl.cert_pem)).decode()]}
    unsigned = with_part(token, 0, header)
    signing_input = unsigned.rsplit(".", 1)[0]
    forged = f"{signing_input}.{_b64(_raw_signature(board.carl.sign(signing_input.encode())))}"
    error = failure(forged, board.ca_pem)
    assert (error.failure, error.detail) == (
        Failure.UNKNOWN_ISSUER,
        "board/carl has role 'clerk', not 'registrar'; only registrars sign for board",
    )


def test_only_vc_2_0_documents_are_signed(board):
    v1 = licence() | {"@context": ["https://www.w3.org/2018/credentials/v1"]}
    with pytest.raises(IdentityError, match="cannot sign: malformed: @context must start with"):
        issue_credential(v1, board.rita)


def test_issuer_claim_must_name_the_signers_org(board):
    with pytest.raises(IdentityError, match="issuer 'urn:careledger:org:hospital' is not"):
        issue_credential(licence() | {"issuer": "urn:careledger:org:hospital"}, board.rita)


def test_validity_window_is_judged_at_the_given_time(board):
    token = issue_credential(licence(NOW + timedelta(days=2), NOW + timedelta(days=10)), board.rita)
    inside = NOW + timedelta(days=3)
    assert verify_credential(token, board.ca_pem, at=inside).checked_at == inside
    early = failure(token, board.ca_pem)
    assert (early.failure, early.detail.startswith("credential is valid from")) == (
        Failure.NOT_YET_VALID,
        True,
    )
    late = failure(token, board.ca_pem, at=NOW + timedelta(days=10))
    assert (late.failure, late.detail.startswith("credential expired at")) == (Failure.EXPIRED, True)


def test_signing_certificate_must_be_valid_at_the_time_checked(board):
    token = issue_credential(licence(NOW - timedelta(days=900), NOW + timedelta(days=900)), board.rita)
    before = failure(token, board.ca_pem, at=NOW - timedelta(days=1))
    after = failure(token, board.ca_pem, at=NOW + timedelta(days=400))
    assert (before.failure, after.failure) == (Failure.NOT_YET_VALID, Failure.EXPIRED)
    assert after.detail.startswith("signing certificate: identity board/rita is valid from")


def test_revoked_bit_in_the_status_list_fails_and_an_unset_bit_passes(board):
    token = issue_credential(licence(index=7), board.rita)
    clean = verify_credential(token, board.ca_pem, status_list=status_list(board.rita, [3, 8]))
    assert clean.status is not None
    assert (clean.status.purpose, clean.status.index) == ("revocation", 7)
    error = failure(token, board.ca_pem, status_list=status_list(board.rita, [3, 7]))
    assert error.failure is Failure.REVOKED
    assert error.detail.startswith(f"bit 7 is set in revocation list {LIST}/revocation issued ")


def test_suspension_list_reports_suspended(board):
    token = issue_credential(licence(index=0), board.rita)
    error = failure(token, board.ca_pem, status_list=status_list(board.rita, [0], "suspension"))
    assert error.failure is Failure.SUSPENDED


def test_status_list_must_itself_be_signed_by_the_board(board, tmp_path):
    token = issue_credential(licence(index=7), board.rita)
    error = failure(token, board.ca_pem, status_list=status_list(make_board(tmp_path).rita, []))
    assert error.failure is Failure.UNKNOWN_ISSUER
    assert error.detail.startswith("status list: ")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "not a jws",
        lambda t: t.replace(".", "..", 1),
        lambda t: with_part(t, 0, part(t, 0) | {"alg": "none"}),
        lambda t: with_part(t, 0, part(t, 0) | {"x5c": ["%%%"]}),
        lambda t: ".".join([t.split(".")[0], _b64(b"[1]"), t.split(".")[2]]),
    ],
)
def test_malformed_tokens_say_so(board, mangle):
    token = issue_credential(licence(), board.rita)
    assert failure(mangle(token), board.ca_pem).failure is Failure.MALFORMED


def test_bitstring_is_gzip_base64url_of_at_least_16_kib_with_index_0_the_high_bit():
    encoded = encode_bitstring([0, 9, MIN_STATUS_BITS - 1])
    assert encoded.startswith("u") and "=" not in encoded
    bits = decode_bitstring(encoded)
    assert len(bits) == 16 * 1024
    assert (bits[0], bits[1], bits[-1]) == (0x80, 0x40, 0x01)
    assert [i for i in range(16) if bit_is_set(bits, i)] == [0, 9]
    assert encode_bitstring([9, 0, MIN_STATUS_BITS - 1]) == encoded  # deterministic


def test_a_status_list_shorter_than_16_kib_is_malformed():
    short = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(100))).rstrip(b"=").decode()
    with pytest.raises(VerificationError, match="fewer than 131072"):
        decode_bitstring(short)


# --- the CLI, off-line -------------------------------------------------------------------------


def test_verify_vc_command_exits_0_when_valid_and_1_naming_the_failure(board, tmp_path):
    vc = tmp_path / "drsmith.jwt"
    vc.write_text(issue_credential(licence(index=7), board.rita) + "\n")
    revoked = tmp_path / "revocation.jwt"
    revoked.write_text(status_list(board.rita, [7]))
    runner = CliRunner()
    ok = runner.invoke(credentials, ["verify-vc", str(vc), "--ca", str(board.ca_file)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("VALID: urn:careledger:practitioner:hospital/drsmith licence MD-1001")
    bad = runner.invoke(
        credentials,
        ["verify-vc", str(vc), "--ca", str(board.ca_file), "--status-list", str(revoked), "--json"],
    )
    assert bad.exit_code == 1
    assert json.loads(bad.output) | {"reason": ""} == {"valid": False, "failure": "revoked", "reason": ""}
    late = runner.invoke(
        credentials, ["verify-vc", str(vc), "--ca", str(board.ca_file), "--at", "2999-01-01"]
    )
    assert late.exit_code == 1
    assert late.output.startswith("INVALID (expired): ")


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
