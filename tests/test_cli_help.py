"""The --help texts read as sentences: a docstring's source line breaks do not show as ragged lines."""

import inspect

from typer.testing import CliRunner

from ocrbatch.cli import app
from ocrbatch.cli.sweep import sweep_app

runner = CliRunner()


def summaries(help_text: str) -> dict[str, str]:
    """Command name -> its row in the Commands panel (one line each at this width)."""
    rows = {}
    for line in help_text.splitlines():
        cells = line.strip("│ ").split(None, 1)
        if len(cells) == 2 and line.startswith("│ "):
            rows[cells[0]] = cells[1]
    return rows


def test_every_command_s_summary_is_one_line_in_the_command_list():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0
    rows = summaries(result.stdout)
    for command in app.registered_commands:
        first_paragraph = inspect.cleandoc(command.callback.__doc__).split("\n\n")[0]
        name = command.name or command.callback.__name__.replace("_", "-")
        assert rows[name].rstrip(" │").endswith(first_paragraph.split()[-1]), (name, rows[name])


def test_a_command_s_own_help_flows_its_paragraphs():
    for command in (*app.registered_commands, *sweep_app.registered_commands):
        for paragraph in command.help.split("\n\n"):
            assert "\n" not in paragraph, command.help


def test_hints_point_at_the_same_backend_in_a_form_a_shell_takes_back():
    import shlex

    from ocrbatch.cli.common import backend_flags
    from ocrbatch.wiring import Target

    flags = backend_flags(Target(local=True, home="/tmp/my ocr home"))
    assert shlex.split(flags) == ["--local", "--home", "/tmp/my ocr home"]
    aws = backend_flags(Target(local=False, stack="ocr stack", job_queue="gpu"))
    assert shlex.split(aws) == ["--aws", "--stack", "ocr stack", "--job-queue", "gpu"]
