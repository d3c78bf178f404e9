"""``carbonline node-red …``: put carbonline's flows into a plant's Node-RED."""

from __future__ import annotations

from pathlib import Path

import click
import httpx

from .deploy import DeployError, deploy, load_flows

#: The committed flow files in a clone (the repository's top-level folder).
DEFAULT_FLOWS = Path(__file__).resolve().parents[3] / "node_red_flows"


@click.group("node-red")
def node_red() -> None:
    """carbonline's Node-RED flows."""


@node_red.command("deploy")
@click.option("--url", required=True, envvar="NODE_RED_URL", show_envvar=True,
              help="The plant's Node-RED, e.g. http://node-red:1880.")
@click.option("--token", default=None, envvar="NODE_RED_TOKEN", show_envvar=True,
              help="An Admin API access token, when Node-RED has adminAuth.")
@click.option("--flows", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEFAULT_FLOWS, show_default=True, help="Folder of flow files (*.json).")
def deploy_command(url: str, token: str | None, folder: Path) -> None:
    """Add carbonline's flows to a running Node-RED, or update them in place; the plant's
    own flows are left as they are (Admin API POST /flow, PUT /flow/:id). Credentials named
    ${NAME} in the flow files are filled from this environment."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        flows = load_flows(folder)
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            actions = deploy(client, flows)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from None
    for action in actions:
        click.echo(f"{action.action:8} {action.label} (tab {action.tab_id})")
