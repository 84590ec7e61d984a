"""The CDK app: settings in, one stack out, checked by cdk-nag's AwsSolutions pack on every synth.

``python -m cdk_app`` (what ``cdk.json`` runs) reads the settings once (:func:`~cdk_app.settings.load_settings`)
and calls :func:`build_app`; the tests call :func:`build_app` directly with settings of their own.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from cdk_app.settings import Settings, SettingsError, load_settings
from stacks.training_platform import TrainingPlatformStack

__all__ = ["Settings", "SettingsError", "build_app", "load_settings"]


def build_app(settings: Settings, app: App | None = None) -> tuple[App, TrainingPlatformStack]:
    app = app or App()
    stack = TrainingPlatformStack(app, settings=settings)
    # Every finding must be fixed or acknowledged on its resource; an open one fails the synth.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack
