"""Asset transfer: the sample contract the ledger-core end-to-end tests drive.

Assets are JSON objects under their id; every change emits an event carrying the asset.
"""

from __future__ import annotations

import json

from careledger.chaincode import Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.codec import canonical_json
from careledger.chaincode.paging import page_size_arg

Asset = dict[str, str]


class BasicContract(Contract):
    """Create, read, update, transfer and delete simple assets; list them and their history."""

    name = "basic"

    @submit
    def create_asset(self, ctx: Context, asset_id: str, owner: str, value: str) -> Asset:
        """Record a new asset owned by `owner`; the creator's identity is recorded too."""
        if ctx.stub.get_state(asset_id) is not None:
            raise ContractError(f"asset {asset_id} already exists")
        asset = {
            "id": asset_id,
            "owner": owner,
            "value": value,
            "created_by": ctx.client_identity.id,
        }
        return self._save(ctx, asset, "AssetCreated")

    @evaluate
    def read_asset(self, ctx: Context, asset_id: str) -> Asset:
        """The asset stored under `asset_id`."""
        return self._load(ctx, asset_id)

    @submit
    def update_asset(self, ctx: Context, asset_id: str, value: str) -> Asset:
        """Set the value of an existing asset."""
        asset = self._load(ctx, asset_id) | {"value": value}
        return self._save(ctx, asset, "AssetUpdated")

    @submit
    def transfer_asset(self, ctx: Context, asset_id: str, new_owner: str) -> Asset:
        """Give an existing asset to `new_owner`."""
        asset = self._load(ctx, asset_id) | {"owner": new_owner}
        return self._save(ctx, asset, "AssetTransferred")

    @submit
    def delete_asset(self, ctx: Context, asset_id: str) -> None:
        """Remove an existing asset; its history stays on the ledger."""
        asset = self._load(ctx, asset_id)
        ctx.stub.del_state(asset_id)
        ctx.stub.set_event("AssetDeleted", asset)

    @evaluate
    def get_all_assets(self, ctx: Context, page_size: str = "", bookmark: str = "") -> dict[str, object]:
        """The assets sorted by id, a page at a time: {items, bookmark (of the next page, "" after
        the last), fetched}; page_size empty is 100, at most 1000."""
        page = ctx.stub.get_state_by_range_with_pagination("", "", page_size_arg(page_size), bookmark)
        return page.answer([json.loads(value) for _, value in page.entries])

    @evaluate
    def asset_history(self, ctx: Context, asset_id: str) -> list[dict[str, object]]:
        """Every committed change of the asset, oldest first; `asset` is null for a delete."""
        return [
            {
                "tx_id": entry.tx_id,
                "timestamp": entry.timestamp.isoformat(),
                "block_num": entry.block_num,
                "tx_num": entry.tx_num,
                "is_delete": entry.is_delete,
                "asset": None if entry.is_delete else json.loads(entry.value),
            }
            for entry in ctx.stub.get_history_for_key(asset_id)
        ]

    @staticmethod
    def _load(ctx: Context, asset_id: str) -> Asset:
        data = ctx.stub.get_state(asset_id)
        if data is None:
            raise ContractError(f"asset {asset_id} does not exist")
        asset: Asset = json.loads(data)
        return asset

    @staticmethod
    def _save(ctx: Context, asset: Asset, event: str) -> Asset:
        ctx.stub.put_state(asset["id"], canonical_json(asset))
        ctx.stub.set_event(event, asset)
        return asset
