"""Every subcommand and every option of `ambench` says what it is for in `--help`."""

import argparse

from ambench.cli import build_parser


def _walk(parser: argparse.ArgumentParser, path: str):
    """(where, help text) for every argument and subcommand under `parser`, recursively."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{path} {name}", helps.get(name)
                yield from _walk(sub, f"{path} {name}")
            continue
        yield f"{path} {'/'.join(action.option_strings) or action.dest}", action.help


def test_every_subcommand_and_option_has_help():
    entries = list(_walk(build_parser(), "ambench"))
    assert len(entries) > 40  # the walk reached the subcommands' options
    empty = [where for where, text in entries if not (text and text.strip())]
    assert empty == [], f"no --help text for: {', '.join(empty)}"


def test_help_renders_for_every_subcommand():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, subparser in sub.choices.items():
        text = subparser.format_help()
        assert f"ambench {name}" in text
