"""``python -m workbench`` runs the command line, as the ``workbench`` command does."""

from workbench.cli import main

raise SystemExit(main())
