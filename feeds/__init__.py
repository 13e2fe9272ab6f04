"""feeds: turn web pages into full-text RSS and Atom feeds."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
