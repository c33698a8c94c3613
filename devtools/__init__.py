"""Tooling shared by the tests and the benchmarks (a checkout's, never installed): a live server in
a subprocess and the repository's path. Neither ``tests`` nor ``benchmarks`` imports the other."""

from devtools.live_server import LiveServer, free_port
from devtools.paths import REPO

__all__ = ["REPO", "LiveServer", "free_port"]
