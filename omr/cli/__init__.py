"""The ``omr`` command: ``main`` puts the commands together; each command is a module of this package."""

from omr.cli.main import main

__all__ = ["main"]
