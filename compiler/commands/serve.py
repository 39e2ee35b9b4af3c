"""``cortado serve``: artifacts (or models compiled first) behind the Open Inference Protocol.

Everything a user can get wrong -- a missing file, an untrusted artifact, a duplicate name, a
port in use, the serve extra not installed -- is checked here, before Ray starts, and ends in
one message and exit code 2. Models given as .onnx/.prototxt are compiled in this process and
saved to a temporary folder (removed on exit): the replicas load artifacts only.
"""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
from pathlib import Path

from cortado.runtime.errors import CortadoError

from ..progress import Progress
from . import flags
from .common import add_limit_flag, input_shapes, is_artifact

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def register(sub) -> None:
    s = sub.add_parser("serve", help="serve models over HTTP and gRPC (Open Inference Protocol) on Ray Serve")
    s.add_argument("models", nargs="+", metavar="MODEL_OR_ARTIFACT",
                   help=".cortado artifacts, or .onnx/.prototxt models to compile first")
    s.add_argument("--name", action="append", default=[], help="the served name of each model, in order "
                   "(default: the file's stem)")
    s.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    s.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    s.add_argument("--grpc-port", type=int, default=8001, help="gRPC port (default 8001)")
    s.add_argument("--metrics-port", type=int, default=8002,
                   help="Prometheus port of the local Ray instance (default 8002)")
    s.add_argument("--replicas", type=int, default=1, help="replicas per model (default 1)")
    s.add_argument("--max-batch-size", type=int, default=8, help="most rows one dynamic batch gathers (1: off)")
    s.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long a batch waits to fill (ms)")
    flags.add_target(s)
    s.add_argument("--address", help="deploy onto this Ray cluster (default $RAY_ADDRESS, else a local Ray)")
    s.add_argument("--num-cpus", type=float, help="CPUs of the local Ray instance (default: all)")
    s.add_argument("--object-store-mb", type=int, default=256, help="object store of the local Ray instance")
    s.add_argument("--trusted-key", action="append", metavar="PUB",
                   help="serve only artifacts signed by this Ed25519 public key (repeatable; see cortado sign)")
    s.add_argument("--request-timeout-s", type=float, default=120.0,
                   help="end-to-end limit per request; later it is answered with a timeout (default 120)")
    s.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on every request but health probes")
    flags.add_compile_flags(s, target=False)          # for models compiled first; --target is above
    add_limit_flag(s)
    flags.add_quiet(s)
    s.set_defaults(func=run)


def run(args) -> int:
    _check_options(args)
    flags.check_target(args)
    try:
        from cortado.runtime.serve import app
    except ImportError as e:
        raise CortadoError(f"serving needs the serve extra ({e.name} is missing)",
                           hint="pip install 'cortado[serve]'") from None
    workdir = Path(tempfile.mkdtemp(prefix="cortado-serve-"))
    try:
        with Progress(enabled=not args.quiet) as progress:
            models = _models(args, workdir, progress, app.ServedModel)
        opts = app.ServeOptions(host=args.host, port=args.port, grpc_port=args.grpc_port,
                                metrics_port=args.metrics_port, replicas=args.replicas,
                                max_batch_size=args.max_batch_size, batch_wait_ms=args.batch_wait_ms,
                                target=args.target, address=args.address, api_key=args.api_key,
                                max_elements=args.max_elements, num_cpus=args.num_cpus,
                                object_store_mb=args.object_store_mb, request_timeout_s=args.request_timeout_s)
        return app.serve_until_signal(models, opts)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _check_options(args) -> None:
    for flag, value, low in (("--replicas", args.replicas, 1), ("--max-batch-size", args.max_batch_size, 1),
                             ("--object-store-mb", args.object_store_mb, 75)):
        if value < low:
            raise CortadoError(f"{flag} must be at least {low}, got {value}")
    if args.batch_wait_ms < 0:
        raise CortadoError(f"--batch-wait-ms must not be negative, got {args.batch_wait_ms}")
    if args.request_timeout_s <= 0:
        raise CortadoError(f"--request-timeout-s must be positive, got {args.request_timeout_s}")
    if args.num_cpus is not None and args.num_cpus <= 0:
        raise CortadoError(f"--num-cpus must be positive, got {args.num_cpus}")
    if len(args.name) > len(args.models):
        raise CortadoError(f"{len(args.name)} --name flags for {len(args.models)} model(s); give at most one each")
    if all(is_artifact(m) for m in args.models):     # nothing to compile: compile flags are not honoured
        flags.refuse_compile_flags(args, args.models[0])
    ports = {"--port": args.port, "--grpc-port": args.grpc_port}
    if not (args.address or _env_address()):
        ports["--metrics-port"] = args.metrics_port
    seen = {}
    for flag, port in ports.items():
        if not 0 < port < 65536:
            raise CortadoError(f"{flag} must be a port number 1-65535, got {port}")
        if port in seen:
            raise CortadoError(f"{flag} and {seen[port]} are both {port}; give each its own port")
        seen[port] = flag
        _check_port_free(args.host, port, flag)


def _env_address():
    import os

    return os.environ.get("RAY_ADDRESS")


def _check_port_free(host: str, port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the servers bind: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
        except OSError as e:
            raise CortadoError(f"{flag} {port} on {host} is not free ({e.strerror})",
                               hint="stop what uses it, or choose another port") from None


def _models(args, workdir: Path, progress, served_model) -> list:
    from cortado.runtime.artifact import read_artifact

    trusted = None
    if args.trusted_key:
        from cortado.runtime.signing import load_public_key

        trusted = []
        for k in args.trusted_key:
            load_public_key(k)                      # a bad key file fails now, not in every replica
            trusted.append(Path(k).read_bytes())    # the PEM itself: replicas on other nodes lack the file
    models, names = [], list(args.name)
    for i, path in enumerate(args.models):
        if not Path(path).exists():
            raise CortadoError(f"model or artifact not found: {path}")
        name = names[i] if i < len(names) else Path(path).name.split(".")[0]
        if not NAME.match(name):
            raise CortadoError(f"model name {name!r} is not usable in a URL",
                               hint="give --name with letters, digits, '_', '.', '-'")
        if any(m.name == name for m in models):
            raise CortadoError(f"two models are named {name!r}", hint="give each one --name")
        if is_artifact(path):
            progress.step(f"checking {path}")
            manifest, *_ = read_artifact(path, trusted)   # hashes, plan and signature, before Ray starts
            models.append(served_model(name, str(Path(path).resolve()), _io(manifest), trusted))
        else:
            if trusted is not None:
                raise CortadoError(f"{path} is a model, not a signed artifact, and --trusted-key was given",
                                   hint="compile and sign it first: cortado compile, then cortado sign")
            from ..driver import compile as compile_model

            model = compile_model(path, weights=args.weights, random_weights=args.random_weights,
                                  input_shapes=input_shapes(args.shape), target=args.target,
                                  dtype=flags.dtype_of(args), opt_level=flags.opt_level_of(args),
                                  progress=progress.step, max_elements=args.max_elements)
            out = workdir / f"{name}.cortado"
            model.save(out)
            models.append(served_model(name, str(out), {"inputs": model.inputs, "outputs": model.outputs}, None))
    return models


def _io(manifest: dict) -> dict:
    return {"inputs": manifest["inputs"], "outputs": manifest["outputs"]}
