"""``snncompile rules [CODE]``: list the rules or print one rule's documentation."""
from __future__ import annotations

import click

from snncompile.commands.common import guarded
from snncompile.errors import InputError
from snncompile.rules import RULES


@click.command(epilog="Examples:\n\n  snncompile rules\n\n  snncompile rules SNN101")
@click.argument("code", required=False)
@guarded
def rules(code):
    """List the rules, or explain CODE (what, why, example, fix)."""

    if code:
        rule = RULES.get(code.upper())
        if rule is None:
            raise InputError(f"no rule {code!r}; `snncompile rules` lists them")
        click.echo(rule.docs(), nl=False)
        return
    for c, rule in sorted(RULES.items()):
        click.echo(f"{c}  {rule.name:32s} {rule.severity:8s} {rule.summary.split('.')[0]}.")
