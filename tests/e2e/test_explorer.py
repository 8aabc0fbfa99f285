"""`careledger explorer` in a real headless browser: Debian's chromium, driven by selenium through
chromium-driver, against the session network.

The explorer runs as its own process, as a user would start it, and reads as the identity it is
given; the page must agree with `careledger ledger info`, show a transaction submitted after it
loaded without a reload, and show a patient their accounting of disclosures and only what the
peers let a patient read of the blocks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from healthcare import ALICE, SMITH, Ledger, ledger_id, new_category, register_record

from careledger.network.local.testing import LocalNetwork

pytest_plugins = ("healthcare",)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium comes with the dev extra: .[dev]")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = "chromium", "chromedriver"  # Debian's packages chromium and chromium-driver
AUDITOR = "board:audrey"  # role=auditor in tests/e2e/network.toml
WAIT = 20.0


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of Debian's chromium and its driver, installed with apt-get when missing and root."""
    found = shutil.which(CHROMIUM), shutil.which(DRIVER)
    if all(found):
        return found  # type: ignore[return-value]
    if os.geteuid() != 0:
        pytest.skip("the explorer's browser test needs Debian's chromium and chromium-driver: "
                    "`apt-get install -y chromium chromium-driver` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    browser, driver = shutil.which(CHROMIUM), shutil.which(DRIVER)
    assert browser and driver, "apt-get installed chromium and chromium-driver but they are not on PATH"
    return browser, driver


@pytest.fixture()
def browser(chromium: tuple[str, str]) -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromium[1]))
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def explorer(net: LocalNetwork, who: str | None = None) -> Iterator[str]:
    """`careledger explorer [--user who] --port 0 --json` running; its URL. Stopped with Ctrl-C
    (SIGINT), which must end it cleanly."""
    command = [sys.executable, "-m", "careledger.cli", "explorer", "--dir", str(net.directory),
               "--port", "0", "--json", *(["--user", who] if who else [])]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, f"the explorer printed no URL: {process.communicate(timeout=10)[1]}"
        yield json.loads(line)["url"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, err
    assert "explorer stopped" in err


def text_of(driver: Any, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def wait_for(driver: Any, what: str, condition: Any) -> Any:
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)
    except TimeoutException:
        shown = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"the page never showed {what}; it shows:\n{shown}") from None


def ledger_info(directory: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "careledger.cli", "ledger", "info", "--dir", str(directory), "--json"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out))


def test_page_shows_the_ledger_height_and_a_new_transaction_without_a_reload(
    net: LocalNetwork, browser: Any
) -> None:
    with explorer(net) as url:  # by default as the network's auditor, who reads full blocks
        browser.get(url)
        height = ledger_info(net.directory)["height"]
        wait_for(browser, f"height {height}", lambda d: text_of(d, "height") == str(height))
        assert text_of(browser, "user") == AUDITOR
        nodes = len(net.profile.peers) + len(net.profile.orderers)
        wait_for(browser, f"{nodes} healthy nodes",
                 lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nodes td.health-OK")) == nodes)
        policies = {row.get_attribute("data-contract"): row.find_elements(By.TAG_NAME, "td")[1].text
                    for row in browser.find_elements(By.CSS_SELECTOR, "#contracts tbody tr")}
        assert policies["consent"] == "AND(hospital, OR(insurer, board))"
        browser.execute_script("window.notReloaded = true")

        with net.connect("hospital:admin") as gateway:
            basic = gateway.get_network(net.profile.channel).get_contract("basic")
            status = basic.submit_async("create_asset", f"explorer-{os.getpid()}", "ward-9", "1").get_status()
        row = f'#transactions tr[data-tx-id="{status.tx_id}"]'
        wait_for(browser, f"transaction {status.tx_id}", lambda d: d.find_elements(By.CSS_SELECTOR, row))
        cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, f"{row} td")]
        assert cells[:5] == [
            str(status.block_number), status.tx_id, "basic.create_asset", "hospital/admin", "VALID"]
        wait_for(browser, f"height {status.block_number + 1}",
                 lambda d: int(text_of(d, "height")) >= status.block_number + 1)
        assert browser.execute_script("return window.notReloaded") is True, "the page was reloaded"


def test_a_patient_sees_their_disclosures_and_blocks_only_filtered(
    net: LocalNetwork, care: Ledger, registered_patients: dict, smith_licensed: dict, browser: Any
) -> None:
    record = register_record(care, ALICE, new_category())
    care.submit(ALICE, "consent", "grant_consent", f"consent-{record.record_id}", ledger_id(SMITH), "access",
                "TREAT", record.category)
    read = care.commit(SMITH, "consent", "access_record", ledger_id(ALICE), record.record_id, "TREAT")
    assert read.code == "VALID" and read.result["granted"], read

    with explorer(net, ALICE) as url:
        browser.get(url)
        row = f'#disclosures tr[data-record="{record.record_id}"]'
        wait_for(browser, f"the disclosure of {record.record_id}",
                 lambda d: d.find_elements(By.CSS_SELECTOR, row))
        cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, f"{row} td")]
        assert cells[1:5] == [ledger_id(SMITH), record.record_id, record.category, "TREAT"]

        # the peers' read rules: a patient gets no full blocks, only the filtered view
        wait_for(browser, "blocks restricted",
                 lambda d: d.find_element(By.ID, "blocks-restricted").is_displayed())
        assert text_of(browser, "blocks-restricted").startswith(
            "Access restricted: this identity may not read full blocks. The peer says: hospital/alice")
        drsmith_read = f'#transactions tr[data-tx-id="{read.tx_id}"]'
        wait_for(browser, "Dr Smith's read as a filtered transaction",
                 lambda d: d.find_elements(By.CSS_SELECTOR, drsmith_read))
        cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, f"{drsmith_read} td")]
        assert cells[:5] == [str(read.block), read.tx_id, "—", "—", "VALID"]  # no call, no creator
        assert browser.find_element(By.CSS_SELECTOR, f'#blocks li[data-block="{read.block}"]').get_attribute(
            "data-filtered") == "true"

        own = register_record(care, ALICE, new_category())  # appears live, still filtered
        mine = f'#transactions tr[data-tx-id="{own.registered.tx_id}"]'
        wait_for(browser, f"transaction {own.registered.tx_id}",
                 lambda d: d.find_elements(By.CSS_SELECTOR, mine))
