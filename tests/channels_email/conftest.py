"""A real IMAP server for the email tests: Debian's Dovecot on 127.0.0.1, run from a temp folder.

Dovecot runs in the foreground (-F) as root with its own config, base_dir, state_dir and maildir
under a fresh temp folder (never the system config); users come from a passwd-file, mail is owned
by the unprivileged `mail` user. Mail is put into mailboxes with IMAP APPEND.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import WorkerProcess, free_port, wait_for

PASSWORD = "imap-secret"
MAIN = "pakn@test.localhost"  # the address notices come from (MAIL_FROM), so replies land here
SECOND = "hotro@test.localhost"
USERS = (MAIN, SECOND)

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
instance_name = pakn-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    host: str
    port: int
    root: str

    def connect(self, user: str = MAIN) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port)
        client.login(user, PASSWORD)
        return client

    def append(self, raw: bytes, user: str = MAIN, folder: str = "INBOX") -> None:
        client = self.connect(user)
        try:
            status, data = client.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def messages(self, user: str = MAIN, folder: str = "INBOX") -> list[tuple[int, str]]:
        """(UID, flags) of every message in the folder; [] if the folder does not exist."""
        client = self.connect(user)
        try:
            status, _ = client.select(folder, readonly=True)
            if status != "OK":
                return []
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            result = []
            for item in data:
                if not item:
                    continue
                text = item.decode() if isinstance(item, bytes) else item[0].decode()
                uid = int(text.split("UID ", 1)[1].split()[0].rstrip(")"))
                flags = text.split("FLAGS (", 1)[1].split(")", 1)[0].split()
                # \Recent only says no session saw it yet; the poller's mark is \Seen.
                result.append((uid, " ".join(f for f in flags if f != "\\Recent")))
            return result
        finally:
            client.logout()

    def empty(self, user: str) -> None:
        client = self.connect(user)
        try:
            _, folders = client.list()
            for line in folders or []:
                match = re.match(r'\(.*?\) (?:"[^"]*"|NIL) "?([^"]*)"?$', line.decode())
                if not match:
                    continue
                status, count = client.select(f'"{match.group(1)}"')
                if status == "OK" and int(count[0] or 0) > 0:
                    client.store("1:*", "+FLAGS", r"(\Deleted)")
                    client.expunge()
        finally:
            client.logout()


def _start(root: str, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        pytest.fail(
            "Dovecot is not installed: the email tests need a real IMAP server. Install the Debian "
            "package: apt-get install -y dovecot-imapd (listed in scripts/apt-test-packages.txt)",
            pytrace=False,
        )
    uid, gid = pwd.getpwnam("mail").pw_uid, grp.getgrnam("mail").gr_gid
    for sub in ("run", "state", "mail"):
        os.makedirs(os.path.join(root, sub))
    os.chown(os.path.join(root, "mail"), uid, gid)
    os.chmod(root, 0o755)  # the mail user must reach its maildir
    with open(os.path.join(root, "passwd"), "w") as fh:
        fh.writelines(f"{user}:{{PLAIN}}{PASSWORD}::::::\n" for user in USERS)
    conf = os.path.join(root, "dovecot.conf")
    with open(conf, "w") as fh:
        fh.write(CONFIG.format(root=root, port=port, uid=uid, gid=gid))
    return subprocess.Popen([binary, "-F", "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def _listening(port: int, proc: subprocess.Popen[bytes], root: str) -> bool:
    if proc.poll() is not None:
        path = os.path.join(root, "dovecot.log")
        log = open(path, errors="replace").read() if os.path.exists(path) else ""  # noqa: SIM115
        pytest.fail(f"Dovecot exited with {proc.returncode}:\n{log}", pytrace=False)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(100).startswith(b"* OK")
    except OSError:
        return False


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    root = tempfile.mkdtemp(prefix="pakn-dovecot-")
    port = free_port()
    proc = _start(root, port)
    try:
        wait_for(lambda: _listening(port, proc, root), timeout=30)
        yield Dovecot("127.0.0.1", port, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap(dovecot: Dovecot, db: Any) -> Dovecot:
    """Empty mailboxes and an empty database for each test."""
    for user in USERS:
        dovecot.empty(user)
    return dovecot


def mailbox_entry(server: Dovecot, user: str = MAIN, **extra: Any) -> dict[str, Any]:
    return {"host": server.host, "port": server.port, "ssl": False, "user": user,
            "password": PASSWORD, **extra}  # fmt: skip


@pytest.fixture
def mail_config(app: Any, imap: Dovecot) -> dict[str, Any]:
    """The app's configuration plus the test mailbox, for polls run in the test process."""
    return {**app.config, "IMAP_MAILBOXES": [mailbox_entry(imap)]}


@pytest.fixture
def mail_worker(service_env: dict[str, str], imap: Dovecot) -> Iterator[WorkerProcess]:
    """Real RQ worker processes configured, like production, from IMAP_* environment variables."""
    env = {**service_env, "IMAP_HOST": imap.host, "IMAP_PORT": str(imap.port),
           "IMAP_SSL": "false", "IMAP_USER": MAIN, "IMAP_PASSWORD": PASSWORD}  # fmt: skip
    w = WorkerProcess(env)
    yield w
    w.stop()


@pytest.fixture
def intake(app: Any, mail_config: dict[str, Any]) -> Any:
    """Poll the test mailbox in this process and process what was stored (no worker needed)."""
    from sqlalchemy import select

    from channels.email.poll import poll_all
    from service.extensions import db as _db
    from service.inbound import process_inbound
    from service.models import InboundMessage

    def run(config: dict[str, Any] | None = None, flag: bool = True) -> list[str]:
        with app.app_context():
            results = poll_all(_db.session, config or mail_config, flag=flag)
            assert not any(r.errors for r in results), [r.errors for r in results]
            ids = _db.session.scalars(
                select(InboundMessage.id)
                .where(InboundMessage.channel == "email", InboundMessage.state == "new")
                .order_by(InboundMessage.id)
            ).all()
            outcomes = [process_inbound(_db.session, i) for i in ids]
            _db.session.remove()
            return outcomes

    return run
