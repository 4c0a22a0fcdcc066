"""`python -m atoll.cli` runs the `atoll` command."""

from atoll.cli import main

main.main()
