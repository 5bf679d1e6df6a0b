"""Offline by construction: the notebook smoke runs pass with the network blocked, and nothing
in them even tries to reach it.

A ``sitecustomize.py`` on the kernel's PYTHONPATH replaces `socket.socket.connect` /
`connect_ex` and `socket.getaddrinfo`: loopback (the kernel's own ZMQ channels) and Unix
sockets pass; any other address is written to a log file and refused. The test first proves the
guard bites (a plain urllib request is logged and fails); the notebook runs happen in
smoke mode and asserts the log holds no attempt and every kernel loaded the guard.

The guard and its fixture live in tests/conftest.py; every notebook smoke run in
tests/test_notebooks.py runs under it (one run per notebook, not two).
"""

from __future__ import annotations

import subprocess
import sys


def test_the_guard_refuses_and_records_an_outside_connection(blocked_network):
    attempts, loaded = blocked_network
    code = ("import socket, urllib.request\n"
            "try:\n    urllib.request.urlopen('http://example.com', timeout=5)\n"
            "except OSError as exc:\n    print('refused', exc)\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "c = socket.socket(); c.connect(s.getsockname()); print('loopback ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "refused" in done.stdout and "loopback ok" in done.stdout
    assert "getaddrinfo 'example.com'" in attempts.read_text()
    assert loaded.read_text().strip()
