"""``qwen-spaces completion bash|zsh|fish``: a shell completion script, printed.

The scripts are written from the command line's own argparse parser, so they
follow it: the commands, each one's options, the model names for ``-m``,
files where a path goes. They are static (a Tab runs no Python), and this
needs no package: shtab writes no fish, and argcomplete would start Python
(and import it) on every Tab.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .._spaces.spaces import SPACES
from .common import COMMAND_HELP, EXIT_OK, PROG

__all__ = ["SHELLS", "add_parser", "script"]

SHELLS = ("bash", "zsh", "fish")
_FUNCTION = "_qwen_spaces"

INSTALL = f"""\
Install:
  bash   {PROG} completion bash > ~/.local/share/bash-completion/completions/{PROG}
  zsh    {PROG} completion zsh > "${{fpath[1]}}/_{PROG}"   (a directory on $fpath)
  fish   {PROG} completion fish > ~/.config/fish/completions/{PROG}.fish
or, for this shell only: source <({PROG} completion bash)
"""


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    value: Optional[str]  # None: a switch; else "file" or "text" (or one of choices) follows
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    positionals: tuple[Option, ...]  # flags empty; value and choices say what goes there


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``completion`` command to the subparsers ``commands``."""
    command = commands.add_parser(
        "completion",
        help=COMMAND_HELP["completion"],
        description="Print a completion script for the shell: commands, options, model names.",
        epilog=INSTALL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    command.add_argument("shell", choices=SHELLS, help="the shell: bash, zsh or fish")
    command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from . import _parser  # the whole command line, serve included

    print(script(args.shell, _parser()), end="")
    return EXIT_OK


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for ``shell`` (one of SHELLS) of ``parser``."""
    top = _options(parser)
    commands = _commands(parser)
    writers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    return writers[shell](top, commands)


# --- what the parser holds -------------------------------------------------------------


def _help(action: argparse.Action) -> str:
    """The help's words, its first clause when it is long (a completion menu is narrow)."""
    text = " ".join(str(action.help or "").split())
    if len(text) > 60:
        text = text.split(" (")[0].split("; ")[0]
    return text[:80]


def _option(action: argparse.Action) -> Optional[Option]:
    if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
        return None
    choices: tuple[str, ...] = ()
    value: Optional[str] = "text"
    if action.nargs == 0:
        value = None
    elif action.choices:
        choices = tuple(str(choice) for choice in action.choices)
    elif action.dest == "model":
        choices = tuple(spec.model for spec in SPACES)  # the names `models` lists
    elif action.type is Path or action.dest == "file":
        value = "file"
    return Option(tuple(action.option_strings), _help(action), value, choices)


def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    found = (_option(a) for a in parser._actions if a.option_strings)
    return tuple(o for o in found if o is not None)


def _commands(parser: argparse.ArgumentParser) -> tuple[Command, ...]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help or "" for c in subparsers._choices_actions}
    commands = []
    for name, sub in subparsers.choices.items():
        positionals = tuple(
            o for o in (_option(a) for a in sub._actions if not a.option_strings) if o is not None
        )
        commands.append(Command(name, helps.get(name, ""), _options(sub), positionals))
    return tuple(commands)


# --- bash ---------------------------------------------------------------------------------


def _words(values: Sequence[str]) -> str:
    return " ".join(values)


def _bash_values(options: Sequence[Option]) -> list[str]:
    """``case "$prev"`` branches for the options that take a value."""
    lines = []
    for option in options:
        if option.value is None:
            continue
        pattern = "|".join(option.flags)
        if option.choices:
            action = f'COMPREPLY=($(compgen -W "{_words(option.choices)}" -- "$cur"))'
        elif option.value == "file":
            action = 'COMPREPLY=($(compgen -f -- "$cur"))'
        else:
            action = "COMPREPLY=()"
        lines.append(f"            {pattern}) {action}; return ;;")
    return lines


def _bash(top: Sequence[Option], commands: Sequence[Command]) -> str:
    names = [c.name for c in commands]
    flags = [f for o in top for f in o.flags]
    out = [
        f"# bash completion for {PROG}; written by `{PROG} completion bash`.",
        f"{_FUNCTION}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local command="" i',
        "    # The top level's options take no value: the first other word is the command.",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        "            -*) ;;",
        '            *) command="${COMP_WORDS[i]}"; break ;;',
        "        esac",
        "    done",
        '    case "$command" in',
        '        "")',
        f'            COMPREPLY=($(compgen -W "{_words(flags + names)}" -- "$cur"))',
        "            return ;;",
    ]
    for command in commands:
        words = [f for o in command.options for f in o.flags]
        choices = [c for p in command.positionals for c in p.choices]
        takes_files = any(p.value == "file" for p in command.positionals)
        out.append(f"        {command.name})")
        values = _bash_values(command.options)
        if values:
            indented = [" " * 4 + line for line in values]
            out += ['            case "$prev" in', *indented, "            esac"]
        out.append('            if [[ "$cur" == -* ]]; then')
        out.append(f'                COMPREPLY=($(compgen -W "{_words(words)}" -- "$cur"))')
        if choices:
            out.append("            else")
            out.append(f'                COMPREPLY=($(compgen -W "{_words(choices)}" -- "$cur"))')
        elif takes_files:
            out.append("            else")
            out.append('                COMPREPLY=($(compgen -f -- "$cur"))')
        out += ["            fi", "            ;;"]
    out += [
        "    esac",
        "}",
        f"complete -o filenames -F {_FUNCTION} {PROG}",
        "",
    ]
    return "\n".join(out)


# --- zsh ----------------------------------------------------------------------------------


def _zsh_quote(text: str) -> str:
    """``text`` inside single quotes in an _arguments spec's [description]."""
    text = text.replace("\\", "").replace("[", "(").replace("]", ")").replace(":", " -")
    return text.replace("'", "'\\''")


def _zsh_action(option: Option) -> str:
    if option.value is None:
        return ""
    what = option.flags[-1].lstrip("-") if option.flags else "arg"
    if option.choices:
        return f":{what}:({' '.join(option.choices)})"
    if option.value == "file":
        return f":{what}:_files"
    return f":{what}: "


def _zsh_specs(options: Sequence[Option]) -> list[str]:
    specs = []
    for option in options:
        group = f"({' '.join(option.flags)})" if len(option.flags) > 1 else ""
        for flag in option.flags:
            specs.append(f"'{group}{flag}[{_zsh_quote(option.help)}]{_zsh_action(option)}'")
    return specs


def _zsh(top: Sequence[Option], commands: Sequence[Command]) -> str:
    out = [
        f"#compdef {PROG}",
        f"# zsh completion for {PROG}; written by `{PROG} completion zsh`.",
        f"{_FUNCTION}() {{",
        "    local curcontext=$curcontext state line",
        "    local -a commands",
        "    commands=(",
        *[f"        '{c.name}:{_zsh_quote(c.help)}'" for c in commands],
        "    )",
        "    _arguments -C \\",
        *[f"        {spec} \\" for spec in _zsh_specs(top)],
        "        '1:command:->command' \\",
        "        '*::arg:->args'",
        "    case $state in",
        "        command) _describe -t commands command commands ;;",
        "        args)",
        "            case $words[1] in",
    ]
    for command in commands:
        specs = _zsh_specs(command.options)
        for index, positional in enumerate(command.positionals, start=1):
            specs.append(f"'{index}{_zsh_action(positional) or ':arg: '}'")
        out.append(f"                {command.name})")
        out.append("                    _arguments \\")
        out += [f"                        {spec} \\" for spec in specs[:-1]]
        out.append("                        " + (specs[-1] if specs else "''"))
        out.append("                    ;;")
    out += [
        "            esac",
        "            ;;",
        "    esac",
        "}",
        f'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then {_FUNCTION} "$@"',
        f"else compdef {_FUNCTION} {PROG}; fi",
        "",
    ]
    return "\n".join(out)


# --- fish ---------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(option: Option, condition: str) -> str:
    parts = [f"complete -c {PROG} -n {_fish_quote(condition)}"]
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.choices:
        parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
    elif option.value == "file":
        parts.append("-r -F")
    elif option.value is not None:
        parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


def _fish(top: Sequence[Option], commands: Sequence[Command]) -> str:
    names = " ".join(c.name for c in commands)
    out = [
        f"# fish completion for {PROG}; written by `{PROG} completion fish`.",
        f"complete -c {PROG} -f",
    ]
    out += [_fish_option(o, f"not __fish_seen_subcommand_from {names}") for o in top]
    for command in commands:
        out.append(
            f"complete -c {PROG} -n {_fish_quote(f'not __fish_seen_subcommand_from {names}')} "
            f"-a {command.name} -d {_fish_quote(command.help)}"
        )
    for command in commands:
        seen = f"__fish_seen_subcommand_from {command.name}"
        out += [_fish_option(o, seen) for o in command.options]
        for positional in command.positionals:
            if positional.choices:
                out.append(
                    f"complete -c {PROG} -n {_fish_quote(seen)} "
                    f"-a {_fish_quote(' '.join(positional.choices))}"
                )
            elif positional.value == "file":
                out.append(f"complete -c {PROG} -n {_fish_quote(seen)} -F")
    out.append("")
    return "\n".join(out)
