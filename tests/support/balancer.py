"""A real HTTP load balancer (HAProxy) in front of several `errand bot` processes.

Configured as an operator would put one in front of Errand's bots: round robin,
health checks on GET /healthz, and a request that could not reach a bot (refused
connection, or the bot died before answering) sent again to another one. Resending
a slash command is safe: the bot finds the first job by Slack's trigger_id.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.processes import answers
from tests.support.procs import free_port, stop, wait_for

CONFIG = """\
global
    maxconn 512
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog  # one line a request: which bot, status, retries (+N: sent elsewhere)
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # A bot that refuses the connection or dies mid-request: try another bot.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    option http-buffer-request

frontend slack
    bind 127.0.0.1:{port}
    default_backend bots

backend bots
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200
{servers}
"""
SERVER = "    server bot{index} {address} check inter 500ms fall 2 rise 2"


def haproxy_binary() -> str:
    """Debian's haproxy (.ci/run installs it when missing); skip without it."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy; .ci/run does)")
    return found


def config_text(port: int, backends: list[str]) -> str:
    """HAProxy's configuration for `backends` (host:port of each bot) on `port`."""
    servers = "\n".join(SERVER.format(index=i, address=a) for i, a in enumerate(backends))
    return CONFIG.format(port=port, servers=servers)


@dataclass
class Balancer:
    """A running HAProxy; `url` is where Slack would send its requests."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop(self.process)


def start_balancer(backends: list[str], workdir: Path) -> Balancer:
    """Check the configuration, start HAProxy in the foreground, wait for its port."""
    binary, port = haproxy_binary(), free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(config_text(port, backends))
    subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True, timeout=30)
    with (workdir / "haproxy.log").open("wb") as log:
        process = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    balancer = Balancer(f"http://127.0.0.1:{port}", process)
    # Any answer counts, a 503 while no bot is up too.
    healthz = f"{balancer.url}/healthz"
    wait_for(lambda: process.poll() is not None or answers(healthz), 10, "no haproxy")
    assert process.poll() is None, (workdir / "haproxy.log").read_text()
    return balancer
