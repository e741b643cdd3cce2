"""``hal run`` and ``hal check MODEL --target T`` for spiking networks."""

from __future__ import annotations

import click


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True)
def run(model: str, target: str) -> None:
    """Run a network file (NIR) on a target."""
    raise click.ClickException("hal run is not built yet")


def check_model(path: str, target: str, as_json: bool) -> int:
    raise click.ClickException("hal check MODEL is not built yet")
