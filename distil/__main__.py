"""`python -m distil`: the same as the `distil` command."""

from distil.cli.main import run

run()
