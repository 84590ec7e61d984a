"""``python -m cdk_app``: the entry point ``cdk.json`` names; the only code that reads the environment."""

from __future__ import annotations

import os
import sys

from aws_cdk import App

from cdk_app import SettingsError, build_app, load_settings


def main() -> int:
    app = App()
    try:
        settings = load_settings(app.node.try_get_context, os.environ)
    except SettingsError as err:
        print(f"cdk_app: {err}", file=sys.stderr)
        return 2
    build_app(settings, app)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
