"""colorize: colorize black-and-white photos and films."""

__version__ = "0.1.0"
