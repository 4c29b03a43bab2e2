"""Error types the CLI turns into one clear line: UsageError exits 2, VbenchError exits 1."""


class VbenchError(Exception):
    """A failure the user should see as one line (not a traceback)."""

    exit_code = 1


class UsageError(VbenchError):
    """Bad names, arguments or input data: exit code 2, nothing written."""

    exit_code = 2


class MissingDependencyError(UsageError):
    """An optional extra is not installed."""

    def __init__(self, what: str, extra: str, hint: str = ""):
        super().__init__(f"{what} needs the optional extra: pip install 'vbench-personas[{extra}]'"
                         + (f". {hint}" if hint else ""))
