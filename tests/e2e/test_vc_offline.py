"""A licence leaves the real network as a signed VC and is checked with only the board CA."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from careledger.cli.credentials import credentials
from careledger.network.local.testing import LocalNetwork

DRSMITH = "hospital/drvc"  # a practitioner of its own: the session network is shared


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(credentials, list(args))
    return result.exit_code, result.output


def test_exported_licence_verifies_off_line_until_the_board_revokes_it(
    net: LocalNetwork, tmp_path: Path
) -> None:
    home, ca = str(net.directory), str(net.layout.ca_cert("board"))
    vc, before, after = (tmp_path / name for name in ("drsmith.jwt", "before.jwt", "after.jwt"))
    with net.connect("board:rita") as gw:
        board = gw.get_network(net.profile.channel).get_contract("credentials")
        board.submit_transaction(
            "issue", DRSMITH, "MD-VC-1", "MD", "US-CA", "cardiology", "2026-01-01", "2028-01-01"
        )
        assert run("export-vc", DRSMITH, "--dir", home, "--as", "board:rita", "--out", str(vc))[0] == 0
        assert run("export-status-list", "--dir", home, "--as", "board:rita", "--out", str(before))[0] == 0

        code, out = run("verify-vc", str(vc), "--ca", ca, "--status-list", str(before), "--json")
        assert code == 0, out
        verified = json.loads(out)
        assert (verified["signer"], verified["status"]["purpose"]) == ("board/rita", "revocation")
        assert verified["credential"]["credentialSubject"]["license"] == "MD-VC-1"
        assert verified["credential"]["validUntil"] == "2028-01-01T00:00:00Z"

        board.submit_transaction("revoke", DRSMITH, "licence surrendered after inquiry")
        assert run("export-status-list", "--dir", home, "--as", "board:rita", "--out", str(after))[0] == 0

    # the signature still holds; only the status list tells the verifier about the revocation
    assert run("verify-vc", str(vc), "--ca", ca)[0] == 0
    code, out = run("verify-vc", str(vc), "--ca", ca, "--status-list", str(after))
    assert code == 1
    assert out.startswith("INVALID (revoked): bit ")
    assert run("verify-vc", str(vc), "--ca", str(net.layout.ca_cert("hospital")))[0] == 1
