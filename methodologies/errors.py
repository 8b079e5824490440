"""Domain errors of the methodology plugins.

Every failure a user can cause (a bad file, bad parameters, an unknown methodology) is one of
these, with a message a person can act on; `api/` maps them to problem details or a CLI exit
code in one place, so no traceback ever reaches a project owner.
"""


class MethodologyError(Exception):
    """Base class, so callers can catch every methodology failure in one clause."""


class MethodologyNotFound(MethodologyError):
    def __init__(self, methodology_id: str, version: str | None, available: list[str]) -> None:
        wanted = methodology_id if version is None else f"{methodology_id} {version}"
        listed = ", ".join(available) or "none"
        super().__init__(f"methodology {wanted} is not installed (installed: {listed})")
        self.methodology_id = methodology_id
        self.version = version


class InputDataError(MethodologyError):
    """Monitoring data that cannot be quantified as given.

    `row` is the 1-based data row as the file holds it (the header row is not counted), so a
    project owner can find it in a spreadsheet; it is None when the problem is the whole file.
    """

    def __init__(self, message: str, column: str | None = None, row: int | None = None) -> None:
        where = []
        if column is not None:
            where.append(f"column '{column}'")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.column = column
        self.row = row


class ParameterError(MethodologyError):
    """Project parameters that fail the methodology's parameter model."""


class FactorNotFound(MethodologyError):
    """No published factor fits the request (unknown region, factor id or year)."""
