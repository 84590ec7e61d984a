"""Commands of the demo group (being written)."""

import typer


def register(app: typer.Typer) -> None:
    pass
