"""What an integrator writes: only the careledger pytest plugin's fixtures, no set-up code."""

import json


def test_create_and_read_an_asset(careledger_connect):
    gateway = careledger_connect("hospital:alice")
    basic = gateway.get_network("healthcare").get_contract("basic")

    basic.submit_transaction("create_asset", "infusion-pump-7", "ward-3", "1")
    asset = json.loads(basic.evaluate_transaction("read_asset", "infusion-pump-7"))

    assert asset["owner"] == "ward-3"
    assert asset["created_by"] == "hospital/alice"
