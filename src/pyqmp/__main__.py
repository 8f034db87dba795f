"""Entry point for ``python -m pyqmp``; the command line itself lives in :mod:`pyqmp.cli.main`."""

from pyqmp.cli.main import main

raise SystemExit(main())
