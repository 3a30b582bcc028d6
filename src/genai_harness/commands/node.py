"""``genai-harness node``: start or join a Ray node that offers this machine's usable devices."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from genai_harness.errors import ConfigurationError, HarnessError
from genai_harness.runner.fleet.resources import node_resources


def cmd_node(args: argparse.Namespace) -> int:
    """Start (``--head``) or join (``--address``) a Ray node advertising this machine's devices."""
    # the run preparation (environments, inventory, profile) loads only when this command runs: the CLI starts light
    from genai_harness.runner.prepare import load_setup, survey

    if bool(args.head) == bool(args.address):
        raise ConfigurationError("genai-harness node needs --head (start a cluster) or --address HOST:PORT (join one)")
    ray_cli = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    if not Path(ray_cli).exists():
        raise HarnessError("genai-harness node needs Ray: pip install 'genai-harness[fleet]'")
    found = survey(load_setup(args.config).environments)
    profile = found.profile
    resources = node_resources(found.inventories, profile["fingerprint"])
    command = [ray_cli, "start", "--resources", json.dumps(resources)]
    command += ["--head", "--port", str(args.port)] if args.head else ["--address", args.address]
    print(f"node {profile['hostname']} (machine {profile['fingerprint']}) offers: "
          f"{', '.join(sorted(r for r in resources if r.startswith('dev:'))) or 'no usable device'}", file=sys.stderr)
    if args.dry_run:
        print(json.dumps({"command": command, "resources": resources}, indent=2))
        return 0
    proc = subprocess.run(command, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"`ray start` failed (exit {proc.returncode}); see its output above")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    p = sub.add_parser("node", help="start or join a Ray node offering this machine's devices (fleet runs)")
    p.add_argument("--head", action="store_true", help="start a new cluster here")
    p.add_argument("--address", help="join the cluster at HOST:PORT")
    p.add_argument("--port", type=int, default=6379, help="with --head: the port to listen on (default 6379)")
    p.add_argument("--config", default=None, help="a genai-harness.toml (default: ./genai-harness.toml)")
    p.add_argument("--dry-run", action="store_true", help="print the resources and the `ray start` command only")
    p.set_defaults(handler=cmd_node)
