"""``python -m edi63650`` runs the command line."""

from edi63650.cli import main

main()
