"""Entry point for ``python -m pyqmp``; the command line itself lives in :mod:`pyqmp.cli`."""

from pyqmp.cli.entry import main

raise SystemExit(main())
