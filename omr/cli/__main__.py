"""``python -m omr.cli``: the ``omr`` command without the installed script."""

from omr.cli.main import run

run()
