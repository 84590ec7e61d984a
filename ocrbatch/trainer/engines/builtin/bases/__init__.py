"""The recognizer bases shipped in the package, and what an ``init_from`` names (no paddle needed).

A base is a folder here holding ``weights.pdparams`` + ``weights.json`` (``warm_start.py`` reads and
writes them; ``scripts/pinball_base.py`` builds ``pinball-scores``); so is every model the builtin
engine exports. This module imports nothing heavy, so that ``submit`` can check an ``init_from``
where only the CLI is installed.
"""

from __future__ import annotations

from pathlib import Path

from ocrbatch.errors import BadInput

BASES_DIR = Path(__file__).parent
WEIGHTS_NAME, META_NAME = "weights.pdparams", "weights.json"


def shipped_bases() -> list[str]:
    return sorted(p.name for p in BASES_DIR.iterdir() if (p / META_NAME).is_file())


def resolve(init_from: str) -> Path:
    """The folder ``init_from`` names: a shipped base, or a path."""
    folder = BASES_DIR / init_from if init_from in shipped_bases() else Path(init_from).expanduser()
    if not (folder / META_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise BadInput(f"init_from {init_from!r} is neither a shipped base ({', '.join(shipped_bases())}) nor "
                       f"a folder with {WEIGHTS_NAME} and {META_NAME}")
    return folder


def for_job(init_from: str, *, on_aws: bool) -> str:
    """``init_from`` as a job should carry it: a shipped name as it is, a folder as an absolute path
    (a job need not start where it was named). A job on AWS reads it inside the training image,
    which holds only the shipped bases, so a folder is refused there before any instance starts."""
    if init_from in shipped_bases():
        return init_from
    if on_aws:
        raise BadInput(f"init_from {init_from!r}: a job on AWS can start only from a shipped base "
                       f"({', '.join(shipped_bases())}); train from a folder locally (--local)")
    return str(resolve(init_from).resolve())
