"""``python -m feeds``: the same as the ``feeds`` command."""

from feeds.cli import entry

if __name__ == "__main__":
    entry()
