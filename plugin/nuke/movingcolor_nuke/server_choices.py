"""What the node asks the server (GetInfo): the engines and models it offers (the built-in engines when
no server answers, saying so), and the OCIO config it runs."""

from __future__ import annotations

from dataclasses import dataclass

from movingcolor.errors import TRANSIENT_EXIT_CODE, MovingColorError
from movingcolor.spec.schema import BUILTIN_ENGINES

#: Seconds to wait for a server when a node is made: a missing server must not hold up the artist.
ASK_SECONDS = 2.0


@dataclass(frozen=True)
class ServerChoices:
    engines: tuple[str, ...]
    models: tuple[str, ...]
    #: Where the lists came from, for the node's status line.
    note: str
    answered: bool


def ask_server(address: str, timeout: float = ASK_SECONDS) -> ServerChoices:
    """The server's engines (the built-in ones first, in their usual order) and installed models;
    the built-in engines and no models when nothing answers at ``address`` within ``timeout``."""
    from movingcolor_client import connect

    address = address.strip()
    try:
        with connect(address, retries=0) as client:
            info = client.info(timeout)
    except (MovingColorError, ValueError) as error:
        # Only a server that is not there is worth asking again once it runs; one that refuses this
        # user (its socket, its token) says why.
        said = (
            f"no server answered at {address or '(no address)'} ({error}); the engine list is the "
            f"built-in one: press 'ask server' once it runs"
            if isinstance(error, ValueError) or getattr(error, "exit_code", 0) == TRANSIENT_EXIT_CODE
            else f"{error}; the engine list is the built-in one"
        )
        return ServerChoices(BUILTIN_ENGINES, (), said, answered=False)
    served = [engine["name"] for engine in info.get("engines", [])]
    engines = [name for name in BUILTIN_ENGINES if name in served]
    engines += [name for name in served if name not in engines]
    models = tuple(model["name"] for model in info.get("models", []))
    return ServerChoices(
        tuple(engines) or BUILTIN_ENGINES,
        models,
        f"engines and models of the server at {address}",
        answered=True,
    )


def server_ocio_config(address: str, token: str | None = None) -> str:
    """The OCIO config the server at ``address`` runs (``Info.ocio_config``: a file or an ocio:// URI),
    asked before a fusion (so with the client's usual patience, not ``ASK_SECONDS``). Raises the client's
    error (ServerUnavailableError, ...) when it does not answer."""
    from movingcolor_client import connect

    with connect(address.strip(), token) as client:
        return str(client.info().get("ocio_config", ""))
