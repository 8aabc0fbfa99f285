"""`python -m careledger.cli` runs the careledger command."""

from careledger.cli.main import cli

cli()
