"""``python -m hypertune`` runs the command line, like the ``hypertune`` script."""

from hypertune.cli import main

main()
