"""``tencentcloud-emulator``: run the emulator as a process.

Prints the endpoint(s) and the seeded root SecretId (never a secret key) and serves until
interrupted. With ``--proxy-port``/``--https-port`` the CA certificate is written to
``--ca-file`` before any port accepts a connection. Bound beyond loopback (``--host 0.0.0.0``,
as in a container) it says so on stderr, whatever the log level: the demo keys are public and
the metadata path hands out credentials to whoever can reach the port.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from .core import Emulator, Options
from .faults import ConfigError
from .seed import SeedError
from .server import EmulatorServer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tencentcloud-emulator",
        description="A local, stateful Tencent Cloud CAM and STS that verifies TC3 signatures.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer the admin plane and metadata path for requests with this Host "
        "(e.g. a container's service name; repeatable); by default only loopback names",
    )
    p.add_argument("--port", type=int, default=9400, help="port to bind; 0 picks a free one")
    p.add_argument(
        "--proxy-port",
        type=int,
        metavar="PORT",
        help="also run an HTTP CONNECT proxy that answers for *.tencentcloudapi.com over TLS "
        "(HTTPS_PROXY=http://HOST:PORT); needs --ca-file",
    )
    p.add_argument(
        "--https-port",
        type=int,
        metavar="PORT",
        help="also serve HTTPS for *.tencentcloudapi.com names (certificate by SNI, routed by "
        "Host); needs --ca-file",
    )
    p.add_argument(
        "--ca-file",
        type=Path,
        metavar="PATH",
        help="write the CA certificate (PEM) of the TLS listeners here before listening",
    )
    p.add_argument("--seed", type=Path, help="seed file (YAML); default: the packaged demo seed")
    p.add_argument("--faults", type=Path, help="fault configuration file (YAML or JSON)")
    p.add_argument("--latency-ms", type=float, default=None, help="fixed latency per call")
    p.add_argument("--jitter-ms", type=float, default=None, help="extra random latency, 0..N ms")
    p.add_argument("--no-throttle", action="store_true", help="disable per-action rate limits")
    p.add_argument(
        "--key-activation-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="new access keys answer AuthFailure.SecretIdNotFound for this long",
    )
    p.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=N",
        help="override a quota, e.g. sub_users=5 (repeatable)",
    )
    p.add_argument(
        "--permissions",
        choices=["on", "off"],
        default="on",
        help="evaluate CAM policies for sub-user keys and temporary credentials (default on)",
    )
    p.add_argument(
        "--instance-role",
        metavar="NAME",
        help="role served at /latest/meta-data/cam/security-credentials/ (default: the seed's)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep the whole world (secrets included) in DIR across restarts; a saved state "
        "is loaded instead of the seed",
    )
    p.add_argument("--rng-seed", type=int, help="seed for ids and fault dice (reproducible runs)")
    p.add_argument("--log-level", default="INFO", help="emulator log level (default INFO)")
    return p


def _options(args: argparse.Namespace) -> Options:
    faults: dict[str, Any] = {}
    if args.faults is not None:
        loaded = yaml.safe_load(args.faults.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError("the fault file must hold a mapping")
        faults = loaded
    latency = dict(faults.get("latency", {}))
    if args.latency_ms is not None:
        latency["fixed_ms"] = args.latency_ms
    if args.jitter_ms is not None:
        latency["jitter_ms"] = args.jitter_ms
    if latency:
        faults["latency"] = latency
    if args.no_throttle:
        faults["throttle"] = {**faults.get("throttle", {}), "enabled": False}
    quotas: dict[str, int] = {}
    for item in args.quota:
        name, _, value = item.partition("=")
        if not value.isdigit():
            raise ConfigError(f"--quota expects NAME=N, got {item!r}")
        quotas[name] = int(value)
    return Options(
        faults=faults,
        quotas=quotas,
        key_activation_delay=args.key_activation_delay,
        rng_seed=args.rng_seed,
        permissions=args.permissions == "on",
        instance_role=args.instance_role,
        state_dir=args.state_dir,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if (args.proxy_port is not None or args.https_port is not None) and args.ca_file is None:
        print("tencentcloud-emulator: TLS listeners need --ca-file", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(args.seed, _options(args))
    except (ConfigError, SeedError, OSError, TypeError, ValueError) as err:
        print(f"tencentcloud-emulator: {err}", file=sys.stderr)
        return 2
    try:
        server = EmulatorServer(
            emulator,
            args.host,
            args.port,
            https_port=args.https_port,
            proxy_port=args.proxy_port,
            ca_file=args.ca_file,
            allow_hosts=tuple(args.allow_host),
        )
    except OSError as err:
        emulator.close()
        print(f"tencentcloud-emulator: {err}", file=sys.stderr)
        return 2
    if server.exposed:  # before the line scripts wait for, so that they have seen it too
        print(_EXPOSED_WARNING.format(host=server.host), file=sys.stderr, flush=True)
    print(f"tencentcloud-emulator listening on {server.endpoint}", flush=True)
    if server.https_port is not None:
        print(f"  HTTPS for *.tencentcloudapi.com on port {server.https_port}", flush=True)
    if server.proxy_url is not None:
        print(f"  CONNECT proxy: HTTPS_PROXY={server.proxy_url}", flush=True)
    if server.ca_file is not None:
        print(f"  CA certificate: {server.ca_file}", flush=True)
    for owner, account in emulator.world.accounts.items():
        # A restored state may hold an account whose root keys were all deleted.
        for key in account.keys_of(owner)[:1]:
            print(f"  account {owner}: root SecretId {key.key_id}", flush=True)
    if args.state_dir is not None:
        print(f"  state kept in {args.state_dir}", flush=True)
    # SIGTERM (docker stop, systemd) ends the process like Ctrl-C, so the last state is saved.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        emulator.close()
    return 0


_EXPOSED_WARNING = (
    "tencentcloud-emulator: WARNING: listening on {host}, beyond this machine's loopback: "
    "anyone who can reach the port can call the API with the seed's public demo keys, use the "
    "admin plane and fetch the instance role's credentials (the Host check stops web pages, "
    "not other machines). Bind 127.0.0.1 unless other machines or containers must reach it."
)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
