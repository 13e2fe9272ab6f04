"""Regular expressions from the config, run by RE2: in time linear in the text, whatever
the pattern (a backtracking pattern such as ``^(\\w+\\s?)+$`` cannot hang a run).

RE2 has no backreferences and no lookaround (``(?=``, ``(?<!``...): a pattern that needs
them is refused when the config is loaded, with RE2's reason. As in RE2, ``\\w``, ``\\d``,
``\\b`` and ``[[:alpha:]]`` are ASCII; ``\\pL`` matches a letter of any script.
The leftover phrasings of extraction are RE2 patterns too, for speed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says why."""


@lru_cache(maxsize=512)
def compile_pattern(pattern: str, *, case_sensitive: bool = True) -> Any:
    """The pattern compiled by RE2 (an object with ``search``); raises ``PatternError``."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print the error on stderr too
    options.case_sensitive = case_sensitive
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(
            f"not a valid regular expression for RE2: {reason} (patterns run in linear "
            "time, so backreferences and lookaround are not supported)"
        ) from None
