"""A SoftHSM token in a folder of its own, for trying and testing keys in a PKCS#11 token locally.

SoftHSM is Debian's `softhsm2`; `ensure_softhsm` installs it with apt-get when missing and allowed
(as root), else says why it cannot, so a test can skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from careledger.network.identity.hsm import PIN_ENV, SOFTHSM_MODULE

CONFIG_ENV = "SOFTHSM2_CONF"


def ensure_softhsm() -> str:
    """"" when SoftHSM's module and tool are here (installing Debian's softhsm2 if needed), else why not."""
    if Path(SOFTHSM_MODULE).is_file() and shutil.which("softhsm2-util"):
        return ""
    if not shutil.which("apt-get"):
        return f"SoftHSM is not installed ({SOFTHSM_MODULE}) and there is no apt-get to install softhsm2"
    if os.geteuid() != 0:
        return "SoftHSM is not installed and only root may apt-get install softhsm2"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "softhsm2"]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # the package lists may be missing on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not Path(SOFTHSM_MODULE).is_file():
        return f"apt-get install softhsm2 failed: {done.stderr.strip()[-500:]}"
    return ""


def init_token(directory: Path, label: str, pin: str, so_pin: str) -> dict[str, str]:
    """Token `label` (made if missing), and the environment a process needs to see it. A process
    loads the PKCS#11 module once and reads SoftHSM's config then, so when $SOFTHSM2_CONF is set
    already the token goes where it points; else into a config and token folder in `directory`."""
    config = Path(os.environ.get(CONFIG_ENV) or directory / "softhsm2.conf")
    if not config.is_file():
        tokens = directory / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, CONFIG_ENV: str(config)}
    slots = subprocess.run(["softhsm2-util", "--show-slots"], capture_output=True, text=True, env=env)
    labels = {line.split(":", 1)[1].strip() for line in slots.stdout.splitlines()
              if line.strip().startswith("Label:")}
    if label not in labels:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                        "--so-pin", so_pin], check=True, capture_output=True, env=env)
    return {CONFIG_ENV: str(config)}


def use_token(directory: Path, label: str, pin: str, so_pin: str = "13579") -> str:
    """Token `label` ready for this process and the ones it starts (the CLI, nodes): SoftHSM's config
    and the PIN go into os.environ, where they inherit them. The PKCS#11 module reads the config once
    per process, so the setting stays for the process's life. "" when ready, else why SoftHSM cannot
    be used (a test skips with that reason)."""
    why = ensure_softhsm()
    if why:
        return why
    os.environ.update(init_token(directory, label, pin, so_pin))
    os.environ[PIN_ENV] = pin
    return ""
