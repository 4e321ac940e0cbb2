"""CSV cells a spreadsheet will not run (CSV injection, OWASP): a cell that starts like a
formula is written with a leading ``'``, and reading an export back takes it off again."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def undefuse(cell: str) -> str:
    """The cell ``defuse`` was given (a cell read back from an export)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell
