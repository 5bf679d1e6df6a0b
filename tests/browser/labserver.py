"""The JupyterLab server and the notebook copies the browser tier runs (no page logic here).

:func:`start_lab` runs ``jupyter lab`` from the project's virtualenv on 127.0.0.1 with a random
token in a fresh process group; :meth:`Lab.stop` always ends that group.
:func:`prepare_notebook` copies a notebook with papermill's injected-parameters cell, so
JupyterLab runs the same smoke configuration as the papermill tests.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# Debian's Chromium; BORTKIT_CHROMIUM points elsewhere (another distribution's path).
CHROMIUM = Path(os.environ.get("BORTKIT_CHROMIUM", "/usr/bin/chromium"))
# Flags known to work on this machine kind (closed network, root, no GPU, no screen).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
VIEWPORT = {"width": 1280, "height": 1000}

def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab server (see :func:`start_lab`)."""

    url: str
    token: str
    root: Path
    proc: subprocess.Popen
    log_path: Path
    home: Path = field(repr=False)

    def page_url(self, path: str) -> str:
        """URL of the JupyterLab page that opens ``path`` (relative to the root dir)."""
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"

    def api(self, path: str) -> object:
        """GET a server REST endpoint (``/api/...``) with the token; returns decoded JSON."""
        req = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - loopback only
            return json.loads(r.read().decode())

    def shutdown_kernel(self, kernel_id: str) -> None:
        """Shut one kernel down through the REST API (no error if it is already gone)."""
        req = urllib.request.Request(
            f"{self.url}/api/kernels/{kernel_id}", method="DELETE",
            headers={"Authorization": f"token {self.token}"},
        )
        try:
            urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - loopback only
        except OSError:
            pass

    def log_tail(self, n: int = 40) -> str:
        """Last ``n`` lines of the server log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server and its kernels down: SIGTERM the process group, then SIGKILL."""
        if self.proc.poll() is not None:
            return
        try:
            pgid = os.getpgid(self.proc.pid)
        except ProcessLookupError:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            # Kernels are in the same group; make sure none outlives the server.
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: deliver SIGTERM to the server if the test process dies (PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def start_lab(
    root: Path, home: Path, *, timeout: float = 90.0, disabled_extensions: tuple[str, ...] = ()
) -> Lab:
    """Start ``jupyter lab`` headless on 127.0.0.1 with a random token and wait for it.

    Args:
        root: Directory served as the JupyterLab root (notebooks are opened relative to it).
        home: Scratch directory for JupyterLab's settings/workspaces/runtime, so no user
            state leaks into the test and nothing is written to the real home.
        timeout: Seconds to wait for ``/api/status`` to answer.
        disabled_extensions: JupyterLab front-end extensions to disable (e.g. ``anywidget``),
            to show that the tests fail when the widget front end is missing.

    Returns:
        The running :class:`Lab`; call :meth:`Lab.stop` in a ``finally``.
    """
    token = secrets.token_hex(16)
    port = free_port()
    settings = home / "settings"
    # No news feed / update check: the network is closed and toasts would cover the page.
    notif = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True, exist_ok=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if disabled_extensions:
        labconfig = home / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {name: True for name in disabled_extensions}}))
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        IPYTHONDIR=str(home / "ipython"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        TOKENIZERS_PARALLELISM="false",
    )
    bindir = Path(sys.executable).parent
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip", "127.0.0.1",
        "--port", str(port),
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.port_retries=0",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",
        "--ServerApp.terminals_enabled=False",
        # Belt and braces if the test process is killed before its finally: the server stops
        # itself when idle (no kernel, no request) and when its parent dies (_die_with_parent).
        "--ServerApp.shutdown_no_activity_timeout=300",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI runs as root
    log_path = home / "jupyterlab.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
    )
    log.close()
    lab = Lab(f"http://127.0.0.1:{port}", token, root, proc, log_path, home)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{lab.log_tail()}")
            try:
                lab.api("/api/status")
                return lab
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"jupyter lab did not answer in {timeout}s:\n{lab.log_tail()}")
            time.sleep(0.25)
    except BaseException:
        lab.stop()
        raise


def prepare_notebook(src: Path, dst_dir: Path, parameters: dict) -> Path:
    """Copy notebook ``src`` into ``dst_dir`` with ``parameters`` injected (papermill's way).

    The injected cell follows the ``parameters``-tagged cell, exactly as
    ``papermill.execute_notebook`` would do it, so JupyterLab runs the smoke configuration.
    """
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(src))  # papermill's loader: normalises tags and metadata
    nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src.name
    nbformat.write(nb, dst)
    return dst


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "VIEWPORT",
    "Lab",
    "free_port",
    "prepare_notebook",
    "start_lab",
]
