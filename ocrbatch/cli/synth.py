"""Commands of the synth group (being written)."""

import typer


def register(app: typer.Typer) -> None:
    pass
