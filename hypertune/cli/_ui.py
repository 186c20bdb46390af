"""``hypertune ui``: the MLflow UI for the tracking store, on 127.0.0.1."""

from __future__ import annotations

import sys

import click

from hypertune._logging import get_logger
from hypertune.errors import BadInputError, HypertuneError

_log = get_logger(__name__)


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on; anything but 127.0.0.1 exposes your runs.",
)
@click.option(
    "--tracking-uri",
    default=None,
    help="MLflow tracking URI. Defaults to $MLFLOW_TRACKING_URI, then sqlite:///mlflow.db.",
)
def ui(port: int, host: str, tracking_uri: str | None) -> None:
    """Serve the MLflow UI for the tracking store on 127.0.0.1.

    \b
        hypertune ui --port 5000
    """
    import signal
    import subprocess

    from hypertune.tracking import resolve_uri

    uri = resolve_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise BadInputError(f"{uri} is already a tracking server: open it in a browser")
    if host not in ("127.0.0.1", "localhost", "::1"):
        _log.warning(
            "warning: serving on %s: anyone who can reach this machine can read and "
            "change your runs",
            host,
        )
    click.echo(f"MLflow UI for {uri} at http://{host}:{port}  (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command)

    def stop(signum: int, frame: object) -> None:
        server.terminate()

    # without this, SIGTERM would end hypertune and leave the server running, orphaned
    signal.signal(signal.SIGTERM, stop)
    try:
        code = server.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to the server too
        code = 0
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait()
    if code > 0:
        raise HypertuneError(f"mlflow ui exited with status {code}")
