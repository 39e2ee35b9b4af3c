"""Start ``cortado serve`` as a child process on free loopback ports, and stop it.

For tests, benchmarks and notebooks: ``start([...])`` returns once the server answers ready
(or raises with its output), ``Server.stop()`` sends SIGINT and, if the server does not exit
in time, kills its whole process group. ``$RAY_ADDRESS`` is not passed on: the child starts
its own small local Ray instance unless ``--address`` is among the arguments.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on ``port`` now (as servers do, with SO_REUSEADDR: the
    TIME_WAIT of connections the old server closed does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@dataclass
class Server:
    proc: subprocess.Popen
    http_port: int
    grpc_port: int
    metrics_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 60) -> int | None:
        """SIGINT, then SIGKILL to the whole process group if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return self.proc.returncode


def start(args: list[str], workdir: Path, env_extra: dict | None = None, *, num_cpus: float = 2,
          object_store_mb: int = 100) -> Server:
    """``cortado serve ARGS`` on fresh loopback ports, its output in ``workdir/serve.log``;
    returns once the server answers ready. The local Ray instance gets ``num_cpus`` and an
    object store of ``object_store_mb``."""
    ports = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(env_extra or {})
    log = workdir / "serve.log"
    cmd = [sys.executable, "-m", "cortado.cli", "serve", *args, "--host", "127.0.0.1", "--port", str(ports[0]),
           "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2]), "--num-cpus", str(num_cpus),
           "--object-store-mb", str(object_store_mb), "-q"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server(proc, *ports, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cortado serve exited with {proc.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"http://{server.url}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    server.stop(10)
    raise RuntimeError(f"cortado serve did not become ready in {START_TIMEOUT_S}s:\n{server.output()}")
