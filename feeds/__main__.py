"""``python -m feeds``: the same as the ``feeds`` command."""

from feeds.cli.commands import main

if __name__ == "__main__":
    main()
