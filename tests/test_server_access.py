"""Who may use a server on a shared workstation: its Unix socket is its user's alone (or a group's
named for it), and what lets other users in (a token file they can read, loopback with roots and no
token) is said when the server starts."""

from __future__ import annotations

import grp
import logging
import os
import shutil
import stat
import subprocess
import sys
from contextlib import contextmanager

import pytest
from conftest import short_folder
from movingcolor.cli.serve import read_token
from movingcolor.service.errors import AddressError
from movingcolor.service.server import create_server
from movingcolor.service.settings import ServerSettings
from movingcolor_client import connect


@contextmanager
def umask(mask: int):
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def _warnings(caplog) -> list[str]:
    return [str(r.fields.get("advice")) for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("group", [None, "id", "name"])
def test_a_unix_socket_is_the_servers_user_alone_or_its_named_groups_whatever_the_umask(group):
    """With a studio's umask 002, every member of the user's group could connect, and run file jobs
    under the roots as the server's user."""
    gid = os.getgid()
    named = {None: None, "id": str(gid), "name": grp.getgrgid(gid).gr_name}[group]
    folder = short_folder()
    path = f"{folder}/mc.sock"
    with umask(0o002):
        server, _ = create_server(f"unix://{path}", ServerSettings(socket_group=named))
    server.start()
    try:
        mode = os.stat(path)
        assert stat.S_IMODE(mode.st_mode) == (0o600 if named is None else 0o660)
        assert mode.st_gid == gid
        with connect(f"unix://{path}") as client:  # the server's own user still connects
            assert client.health() == "SERVING"
    finally:
        server.stop(0).wait()


def test_a_socket_group_that_is_no_group_or_for_tcp_is_refused():
    folder = short_folder()
    with pytest.raises(AddressError, match="not a group of this machine"):
        create_server(f"unix://{folder}/mc.sock", ServerSettings(socket_group="no-such-group-here"))
    assert not os.path.exists(f"{folder}/mc.sock")
    with pytest.raises(AddressError, match="is for a Unix socket"):
        create_server("127.0.0.1:0", ServerSettings(socket_group="root"))


def test_a_token_file_other_users_can_read_is_said(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="movingcolor.service")
    token = tmp_path / "token"
    token.write_text("farm-token-1\n")
    token.chmod(0o600)
    assert read_token(token) == "farm-token-1" and not _warnings(caplog)
    token.chmod(0o644)
    assert read_token(token) == "farm-token-1"
    assert any(f"chmod 600 {token}" in text for text in _warnings(caplog))


def test_loopback_with_roots_and_no_token_is_said_to_be_every_local_users(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="movingcolor.service")
    for settings in (ServerSettings(roots=(tmp_path,), token="t"), ServerSettings()):
        server, _ = create_server("127.0.0.1:0", settings)
        server.stop(None)
    assert not _warnings(caplog)
    server, _ = create_server("127.0.0.1:0", ServerSettings(roots=(tmp_path,)))
    server.stop(None)
    assert any("any user of this machine can run file jobs" in text for text in _warnings(caplog))


def test_loopback_with_roots_under_mutual_tls_is_not_said_to_be_every_local_users(tmp_path, caplog):
    """With --tls-client-ca, only holders of a certificate its CA signed get a call through; the
    server still warned that any user of the machine could run file jobs."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the test certificate)")
    caplog.set_level(logging.WARNING, logger="movingcolor.service")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost", "-days", "2"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    tls = dict(tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem")
    server, _ = create_server(
        "127.0.0.1:0", ServerSettings(roots=(tmp_path,), tls_client_ca=tmp_path / "cert.pem", **tls)
    )
    server.stop(None)
    assert not _warnings(caplog)
    # TLS alone lets any client in: still said.
    server, _ = create_server("127.0.0.1:0", ServerSettings(roots=(tmp_path,), **tls))
    server.stop(None)
    assert any("any user of this machine can run file jobs" in text for text in _warnings(caplog))


def test_a_root_that_is_a_file_is_called_a_file(tmp_path):
    from movingcolor.errors import MovingColorError
    from movingcolor.service.roots import check_roots

    (tmp_path / "passwd").write_text("")
    with pytest.raises(MovingColorError, match="is a file, not a folder"):
        check_roots([tmp_path / "passwd"])
    with pytest.raises(MovingColorError, match="does not exist"):
        check_roots([tmp_path / "absent"])


@pytest.mark.parametrize("group", [None, "named"])
def test_the_socket_is_made_the_servers_alone_not_narrowed_after(monkeypatch, group):
    """Made with the process's umask and narrowed after, a client of the group connecting in
    between was served once the server started; with a group named, the process's own group could
    connect before the socket was handed to the named one."""
    import movingcolor.service.server as server_module

    monkeypatch.setattr(server_module, "_let_the_group_in", lambda path, group: None)
    named = None if group is None else grp.getgrgid(os.getgid()).gr_name
    folder = short_folder()
    with umask(0o002):
        server, _ = create_server(f"unix://{folder}/mc.sock", ServerSettings(socket_group=named))
        assert os.umask(0o002) == 0o002  # the process's umask is as it was
    server.stop(None)
    assert stat.S_IMODE(os.stat(f"{folder}/mc.sock").st_mode) == 0o600


def test_a_socket_this_user_may_not_use_is_said_so():
    """The system refusing a user another user's socket came back as "the server is unavailable",
    exit 75, which a farm retried for good. gRPC's words for it, as a client of another user got
    them. It is still retried within the call's retries: a starting server makes its socket its
    user's alone before it lets a group in."""
    import grpc
    from movingcolor_client.errors import SocketPermissionError, from_rpc_error, retryable

    class Refused(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAVAILABLE

        def details(self):
            return (
                "failed to connect to all addresses; last error: FAILED_PRECONDITION: unix:/tmp/mc.sock: "
                "connect failed: addr: unix:/tmp/mc.sock error: Permission denied"
            )

    error = from_rpc_error(Refused(), "unix:///tmp/mc.sock", "GetInfo")
    assert isinstance(error, SocketPermissionError) and error.exit_code == 2
    assert "--socket-group" in str(error) and retryable(Refused())


def _without_file_permission_override() -> list[str] | None:
    """A command prefix that runs a process of this (root) user without the capabilities that pass
    over files' modes: the system then refuses it another user's socket, as it refuses another user."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return None
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]


def test_a_client_is_told_at_once_that_a_socket_is_not_its_users():
    """gRPC waited out the client's retries (3-7 s) before the refusal came, told as unavailable.
    A real refusal: the socket made another user's, the client run without root's override."""
    prefix = _without_file_permission_override()
    if prefix is None:
        pytest.skip("needs root and setpriv, to refuse a socket as the system refuses another user")
    folder = short_folder()
    server, _ = create_server(f"unix://{folder}/mc.sock", ServerSettings())
    server.start()
    try:
        os.chown(f"{folder}/mc.sock", 65534, 65534)
        address = f"unix://{folder}/mc.sock"
        script = (
            "import time\nfrom movingcolor_client import SocketPermissionError, connect\n"
            "started = time.monotonic()\n"
            f"try:\n    connect({address!r}).info()\nexcept SocketPermissionError as error:\n"
            "    print(round(time.monotonic() - started, 2), error)\n"
        )
        done = subprocess.run(
            [*prefix, sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        seconds, _, said = done.stdout.partition(" ")
        assert "this user may not use the server's socket" in said, done.stdout + done.stderr
        assert float(seconds) < 1.5
    finally:
        server.stop(0).wait()
        shutil.rmtree(folder, ignore_errors=True)
