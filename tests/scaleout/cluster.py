"""Process and HTTP plumbing for the scale-out test: a scratch database, real processes, a small client.

Nothing here knows the DMS domain: it creates and drops a PostgreSQL database, starts and stops
gunicorn / worker.py processes with their output in log files, and speaks HTTP (JSON and forms) with
its own cookie store, because production marks the session cookie Secure and urllib's cookie jar
would then never send it over the test's plain HTTP (in production TLS ends at the load balancer).
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def with_redis_db(url: str, number: int) -> str:
    """The same Redis server URL with another database number."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{number}"))


@contextmanager
def scratch_database(server_url: str, name: str):
    """Create an empty PostgreSQL database on the server of `server_url`, yield its URL, drop it after."""
    import psycopg

    admin_url = with_database(server_url.replace("+psycopg", ""), "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Process:
    """One child process (its own process group) whose output goes to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        """Start it (cwd: the repository, so `wsgi:app` and worker.py are found)."""
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        return self

    def alive(self) -> bool:
        """Whether it is still running."""
        return self.popen is not None and self.popen.poll() is None

    def terminate(self):
        """Send SIGTERM (a graceful stop for gunicorn and a warm shutdown for RQ) if it still runs."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30) -> int | None:
        """Wait for it to end; the exit code, or None when it had to be killed after `timeout` s."""
        if self.popen is None:
            return None
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def stop(self, timeout: float = 30) -> int | None:
        """terminate() then wait(): the exit code, None if it had to be killed."""
        self.terminate()
        return self.wait(timeout)

    def kill(self):
        """SIGKILL its process group: gunicorn's workers, the cron child (not RQ's work horses: they have their own)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of its output, for a failure message."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def python(*args: str) -> list[str]:
    """argv running this interpreter (the project's venv) with `args`."""
    return [sys.executable, *args]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back as they are: the caller wants their Set-Cookie and Location."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Response:
    """Status, headers and body of one answer."""

    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body or b"null")


class Http:
    """A small HTTP client for one base URL, with its own cookies (shared between clients when passed)."""

    CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')

    def __init__(self, base_url: str, cookies: dict | None = None, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.cookies = {} if cookies is None else cookies
        self.timeout = timeout
        self.opener = urllib.request.build_opener(NoRedirect)
        self.csrf: str | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        """Send one request; HTTP errors come back as responses, not exceptions."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)  # noqa: S310 - http only
        try:
            with self.opener.open(req, timeout=self.timeout) as answer:
                response = Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            response = Response(error.code, error.headers, error.read())
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        if response.headers.get_content_type() == "text/html":
            match = self.CSRF_RE.search(response.text)
            if match:
                self.csrf = match.group(1) or match.group(2)
        return response

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_json(self, path: str, data, headers: dict | None = None) -> Response:
        """POST a JSON body."""
        headers = {"Content-Type": "application/json", **(headers or {})}
        return self.request("POST", path, json.dumps(data).encode(), headers)

    def post_form(self, path: str, data: dict, headers: dict | None = None) -> Response:
        """POST a form (add the CSRF token yourself: csrf_token=client.csrf)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urllib.parse.urlencode(data).encode(), headers)


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll `predicate()` until it returns something true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def healthy(base_url: str) -> bool:
    """Whether /healthz answers 200 (database and Redis reachable from that node)."""
    try:
        with urllib.request.urlopen(base_url + "/healthz", timeout=2) as answer:  # noqa: S310 - http only
            return answer.status == 200
    except OSError:
        return False
