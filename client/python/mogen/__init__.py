"""mogen: training batches from a mogend daemon, as NumPy views of shared memory.

    import mogen
    with mogen.Client("/run/mogen/mogen.sock", "train") as client:
        for x, y, info in client.epoch():
            ...   # x: images, y: {"category_output": labels, ...}

See docs/python.md. mogen.keras and mogen.torch hold the framework adapters
and are imported on demand.
"""

from .client import Client, Output, accelerated, status
from .errors import (BadFrame, BadRequest, DaemonError, DaemonGone, DaemonNotRunning,
                     MogenError, MogenTimeout, NoShmPath, NotAttached, NotLeased,
                     ProtocolError, ShuttingDown, StreamBusy, StreamFailed,
                     TooManyConnections, TooManyLeases, UnknownStream, VersionMismatch)
from .protocol import VERSION as PROTOCOL_VERSION

__version__ = "0.1.0"

__all__ = [
    "Client", "Output", "status", "accelerated", "PROTOCOL_VERSION",
    "MogenError", "DaemonNotRunning", "ProtocolError", "MogenTimeout", "DaemonGone",
    "DaemonError", "BadFrame", "BadRequest", "VersionMismatch", "UnknownStream",
    "StreamBusy", "NoShmPath", "NotAttached", "NotLeased", "TooManyLeases",
    "StreamFailed", "ShuttingDown", "TooManyConnections",
]
