"""``python -m advdyn ...``: the command line (:mod:`advdyn.cli.main`)."""

from advdyn.cli.main import main

raise SystemExit(main())
