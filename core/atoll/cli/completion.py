"""`atoll completion bash|zsh|fish`: the shell completion script, from click's own.

The script calls `atoll` back with `_ATOLL_COMPLETE` set on every TAB; click then answers
with commands, options and, for VirtualCluster names, the names the super-cluster lists
(`atoll.cli.connection.complete_vc_names`).
"""

from __future__ import annotations

import click
from click import shell_completion

PROG_NAME = "atoll"
COMPLETE_VAR = "_ATOLL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def script(root: click.Command, shell: str) -> str:
    """The completion script of `root` for `shell`, as click writes it."""
    completer = shell_completion.get_completion_class(shell)
    if completer is None:
        raise click.BadParameter(f"no completion for {shell}", param_hint="SHELL")
    return completer(root, {}, PROG_NAME, COMPLETE_VAR).source()


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(context: click.Context, shell: str) -> None:
    """Print the shell completion script.

    \b
    bash:  eval "$(atoll completion bash)"     (in ~/.bashrc)
    zsh:   eval "$(atoll completion zsh)"      (in ~/.zshrc)
    fish:  atoll completion fish > ~/.config/fish/completions/atoll.fish
    """
    click.echo(script(context.find_root().command, shell), nl=False)
