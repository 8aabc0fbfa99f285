"""`careledger demo`: start a local network if none runs, then tell one story through the SDK."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click

from careledger.cli.common import dir_option
from careledger.gateway import CommitError, connect_local
from careledger.network import launcher
from careledger.network.config import Profile


def _show(step: str, value: bytes | str) -> None:
    text = value.decode() if isinstance(value, bytes) else value
    click.echo(f"  {step:<38} {text}")


@click.command()
@dir_option
def demo(directory: Path) -> None:
    """Run the demo story against the network in --dir (started if it is not running)."""
    if not any(n.serving for n in launcher.status(directory)):
        click.echo(f"starting a local network in {directory} ...")
        launcher.up(directory, progress=lambda m: click.echo(f"  {m}"))
    channel = Profile.load(directory.resolve()).channel
    asset = f"scanner-{uuid.uuid4().hex[:6]}"
    click.echo(f"\nasset story on channel {channel!r} (policy AND(hospital, insurer)):")
    with connect_local(directory, "hospital:alice") as gw:
        basic = gw.get_network(channel).get_contract("basic")
        _show("hospital:alice creates", basic.submit_transaction("create_asset", asset, "hospital", "1200"))
        _show("evaluate read_asset", basic.evaluate_transaction("read_asset", asset))
        _show("transfer to insurer", basic.submit_transaction("transfer_asset", asset, "insurer"))
        try:
            basic.submit_transaction("update_asset", asset, "1", endorsing_orgs=["hospital"])
        except CommitError as exc:
            _show("one-org endorsement is refused", exc.code_name)
        history = json.loads(basic.evaluate_transaction("asset_history", asset))
        _show("history entries", str(len(history)))
        with gw.get_network(channel).get_chaincode_events("basic", start_block=0) as events:
            for ev in events:
                if ev.payload and asset.encode() in ev.payload and ev.event_name == "AssetTransferred":
                    _show(f"event in block {ev.block_number}", ev.event_name)
                    break
    click.echo(f"\nnext: careledger ledger info --dir {directory}; careledger network down --dir {directory}")
