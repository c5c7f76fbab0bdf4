"""Exceptions raised by the mogen client.

Every exception derives from :class:`MogenError`. Errors the daemon reports in
an ERROR frame become a :class:`DaemonError` subclass chosen by the frame's
``code`` (``unknown_stream`` -> :class:`UnknownStream`, ...) and carry the
daemon's own sentence in ``message``.
"""


class MogenError(Exception):
    """Base class of every mogen client error."""


class DaemonNotRunning(MogenError, ConnectionError):
    """Nothing is listening on the socket (it is missing, refuses connections,
    or the path names something other than a socket)."""

    def __init__(self, socket_path, reason, message=None):
        self.socket_path = socket_path
        self.reason = reason
        super().__init__(message or (
            f"mogend is not running at {socket_path} ({reason}); "
            f"start it with `mogend --config FILE` or check the \"socket\" path"))


class ProtocolError(MogenError):
    """The daemon sent something that does not follow docs/protocol.md."""


class MogenTimeout(MogenError, TimeoutError):
    """No reply arrived within the client's timeout."""


class DaemonGone(MogenError, ConnectionError):
    """The connection to the daemon closed (daemon stopped or crashed)."""


class DaemonError(MogenError):
    """The daemon answered with an ERROR frame.

    ``code`` is the machine-readable code (e.g. ``"unknown_stream"``),
    ``message`` the daemon's sentence for a person.
    """

    code = None

    def __init__(self, code, message):
        self.code = code
        self.message = message
        super().__init__(f"{message} [{code}]")


class BadFrame(DaemonError):
    """The daemon could not parse a frame we sent (client bug)."""


class BadRequest(DaemonError):
    """A field of our request was missing or had the wrong type (client bug)."""


class VersionMismatch(DaemonError):
    """The daemon speaks another protocol version."""


class UnknownStream(DaemonError):
    """HELLO named a stream that the daemon's config does not define."""


class StreamBusy(DaemonError):
    """HELLO asked for a position while other clients are attached to the stream."""


class NoShmPath(DaemonError):
    """want_fd=False, but the daemon was configured without shm_dir."""


class NotAttached(DaemonError):
    """NEXT or RELEASE before HELLO."""


class NotLeased(DaemonError):
    """RELEASE of a slot this client does not hold."""


class TooManyLeases(DaemonError):
    """NEXT while already holding slot_count - 1 slots."""


class StreamFailed(DaemonError):
    """Every file of the stream failed to load; the stream has stopped."""


class ShuttingDown(DaemonError, DaemonGone):
    """The daemon is stopping."""


class TooManyConnections(DaemonError):
    """The daemon already serves its maximum number of connections (1024)."""


_BY_CODE = {
    "bad_frame": BadFrame,
    "bad_request": BadRequest,
    "version_mismatch": VersionMismatch,
    "unknown_stream": UnknownStream,
    "stream_busy": StreamBusy,
    "no_shm_path": NoShmPath,
    "not_attached": NotAttached,
    "not_leased": NotLeased,
    "too_many_leases": TooManyLeases,
    "stream_failed": StreamFailed,
    "shutting_down": ShuttingDown,
    "too_many_connections": TooManyConnections,
}


def daemon_error(body):
    """Returns the exception for an ERROR frame's decoded body (a dict).

    Unknown codes give a plain DaemonError, so a newer daemon's codes still
    reach the user with their message.
    """
    if not isinstance(body, dict):
        return ProtocolError(f"ERROR frame body is not a JSON object: {body!r}")
    code = str(body.get("code", "unknown"))
    message = str(body.get("message", "(the daemon gave no message)"))
    return _BY_CODE.get(code, DaemonError)(code, message)
