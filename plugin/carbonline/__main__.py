"""``python -m carbonline`` runs the command line."""

from .cli import main

main()
