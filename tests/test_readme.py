"""The README stays true: its quickstart's main job runs and reads what the README shows."""

from __future__ import annotations

import re
import shlex

from conftest import REPO, cli

README = (REPO / "README.md").read_text()


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the quickstart has a bash block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_the_quickstart_installs_the_core_and_runs_detect():
    commands = quickstart_commands()
    assert commands[0] == "pip install ."  # the lightest install that runs the main job
    assert commands[1].startswith("edgedigits detect ")


def test_the_quickstart_main_job_reads_what_the_readme_shows(monkeypatch):
    monkeypatch.chdir(REPO)
    argv = shlex.split(quickstart_commands()[1])[1:]
    proc = cli(*argv)
    assert proc.returncode == 0, proc.stderr
    shown = re.search(r"\$ edgedigits detect .*\n(notebook_page\.jpg: [\d ]+)\s+\(26 digits", README)
    assert shown, "the README shows the command's output"
    assert proc.stdout.startswith(shown.group(1).rstrip() + "  (26 digits, ")


def test_the_readme_stays_a_front_door():
    assert len(README.splitlines()) <= 160
    for link in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (REPO / link).is_file(), link
