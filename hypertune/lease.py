"""One process at a time per study: a lease held in the study's run tags, kept by a heartbeat.

The process running a study writes its host, pid and a random token into the parent run's tags
and refreshes a heartbeat every :data:`HEARTBEAT_SECONDS`. A second process refuses the study
while the holder is alive: on the same host, while its pid exists; on another host, until its
heartbeat is :data:`STALE_SECONDS` old. So a study killed with ``kill -9`` can be resumed at
once from the same machine. The store offers no atomic compare-and-set, so the claim is written,
then read back after a short pause: of two processes claiming together, the later write wins
and the other refuses.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from hypertune.errors import StudyBusyError, TrackingError
from hypertune.tracking import Tracker

TAG_OWNER = "hypertune.owner"
TAG_HEARTBEAT = "hypertune.heartbeat"
HEARTBEAT_SECONDS = 15.0
STALE_SECONDS = 90.0
SETTLE_SECONDS = 0.3


class Lease:
    """The right to run one study; use as a context manager around the study's trials."""

    def __init__(self, tracker: Tracker, run_id: str, study: str):
        self.tracker = tracker
        self.run_id = run_id
        self.study = study
        self.token = f"{socket.gethostname()} {os.getpid()} {uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if isinstance(error, TrackingError):
            self._stop.set()  # the store is failing; the lease goes stale by itself
            return
        self.release()

    def acquire(self) -> None:
        """Claim the study or raise StudyBusyError naming the live holder."""
        self._refuse_if_held()
        self._write_heartbeat(claim=True)
        time.sleep(SETTLE_SECONDS)
        holder = self.tracker.get_run(self.run_id).data.tags.get(TAG_OWNER, "")
        if holder != self.token:
            raise StudyBusyError(
                f"study '{self.study}' was claimed at the same moment by {_who(holder)}; "
                "let that process run it"
            )
        self._thread = threading.Thread(target=self._beat, name="hypertune-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            tags = self.tracker.get_run(self.run_id).data.tags
            if tags.get(TAG_OWNER) == self.token:
                self.tracker.set_tags(self.run_id, {TAG_OWNER: "", TAG_HEARTBEAT: "0"})
        except TrackingError:
            pass  # the store went away; the heartbeat goes stale and frees the study

    def _refuse_if_held(self) -> None:
        run = self.tracker.get_run(self.run_id)
        holder = run.data.tags.get(TAG_OWNER, "")
        if run.info.status != "RUNNING" or not holder:
            return
        host, pid = _holder(holder)
        beat = float(run.data.tags.get(TAG_HEARTBEAT, "0") or 0)
        if host == socket.gethostname():
            alive = pid.isdigit() and _pid_alive(int(pid)) and int(pid) != os.getpid()
        else:
            alive = time.time() - beat < STALE_SECONDS
        if alive:
            raise StudyBusyError(
                f"study '{self.study}' is being run by {_who(holder)} (heartbeat "
                f"{time.time() - beat:.0f}s ago); wait for it to finish, or stop it first"
            )

    def _write_heartbeat(self, claim: bool = False) -> None:
        tags = {TAG_HEARTBEAT: f"{time.time():.0f}"}
        if claim:
            tags[TAG_OWNER] = self.token
        self.tracker.set_tags(self.run_id, tags)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._write_heartbeat()
            except TrackingError:
                continue  # the study's own calls report the outage


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(holder: str) -> tuple[str, str]:
    """The host and pid in an owner tag (``"host pid token"``)."""
    parts = holder.split(" ")
    return parts[0], parts[1] if len(parts) > 1 else ""


def _who(holder: str) -> str:
    host, pid = _holder(holder)
    return f"pid {pid} on {host}" if host else "another process"
