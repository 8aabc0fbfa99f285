"""How the CLI reports what the SDK, the launcher and the crypto tools raise: one CliError with a
code for --json and the message in the CLI's own words (its flags, not the SDK's parameters)."""

from __future__ import annotations

import grpc

from careledger.cli.common import CliError
from careledger.gateway import CommitError, GatewayError, LocalNetworkError
from careledger.network.config import ConfigError
from careledger.network.identity.errors import IdentityError
from careledger.network.local.etcdcluster import EtcdClusterError
from careledger.network.local.launcher import LauncherError

# The SDK's advice names its own parameters; the CLI names the flag that does the same.
_SDK_WORDS = {
    "(endorsing_orgs)": "(--org ORG, once for each organisation)",
}

REPORTED: tuple[type[Exception], ...] = (
    CliError, GatewayError, CommitError, LocalNetworkError, ConfigError, IdentityError, LauncherError,
    EtcdClusterError, grpc.RpcError,
)
"""What a command may let escape: the root command turns these into CliError."""


def in_cli_words(message: str) -> str:
    """The SDK's message with its parameter names replaced by the CLI's flags."""
    for sdk, cli in _SDK_WORDS.items():
        message = message.replace(sdk, cli)
    return message


def cli_error(exc: Exception) -> CliError:
    """exc as a CliError: its message in the CLI's words and a code for --json."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, GatewayError):
        return CliError(in_cli_words(str(exc)), exc.code.name, exc.tx_id)
    if isinstance(exc, CommitError):
        return CliError(in_cli_words(str(exc)), exc.code_name, exc.tx_id)
    if isinstance(exc, grpc.RpcError):
        status = exc.code()
        return CliError(f"{status.name}: {exc.details()}", status.name)
    codes: dict[type[Exception], str] = {
        LocalNetworkError: "NO_NETWORK", ConfigError: "CONFIG", IdentityError: "CRYPTO",
        LauncherError: "LAUNCH", EtcdClusterError: "LAUNCH",
    }
    code = next((c for kind, c in codes.items() if isinstance(exc, kind)), "FAILED")
    return CliError(in_cli_words(str(exc)), code)
