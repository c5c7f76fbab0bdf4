"""PyTorch adapter: ``mogen.torch.Dataset``, an IterableDataset of whole batches.

    import mogen.torch
    ds = mogen.torch.Dataset(sock, "train", channels_first=True)
    for epoch in range(10):
        for x, y in ds:                 # one epoch per pass
            x = x.float()               # uint8 stays uint8 unless the daemon sends float32
            loss = ce(model_a(x), y["category_output"])  # int64 when encoding is "index"

Each item is ``(x, {output_name: tensor})``, already batched by the daemon:
use it directly, or through ``DataLoader(ds, batch_size=None)``. Keep
``num_workers=0``: mogend does the parallel decoding, and extra loader
processes would each open their own connection and share the stream's queue.

Tensor lifetime (copy=False, the default): ``x`` and one-hot labels come from
``torch.from_numpy`` and share memory with the daemon's ring slot; they stay
valid until the next item is requested, when the slot is released and later
overwritten. They are read-only memory: converting (``x.float()``,
``.to(device)``) makes new tensors and is fine, writing in place
(``x.div_(255)``) would crash the process. Index labels are converted to
int64 (a small copy) for ``CrossEntropyLoss``. ``copy=True`` gives owned,
writable tensors that stay valid forever.
"""

import warnings

import numpy as np
import torch
from torch.utils.data import IterableDataset

from .client import Client


def _tensor(array):
    with warnings.catch_warnings():
        # from_numpy warns about read-only arrays; the docstring states the rule.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(array)


class Dataset(IterableDataset):
    """Batches of one mogen stream as PyTorch tensors.

    - ``epochs``: None makes each pass over the dataset one epoch (ending at
      END_OF_EPOCH), so ``for epoch in range(n): for x, y in ds:`` works and
      the connection stays open between passes; an integer ``n`` makes each
      pass cover ``n`` epochs.
    - ``channels_first``: give ``x`` as NCHW (a permuted view, no copy) when
      the daemon sends NHWC.
    - ``copy``: owned tensors instead of views of the slot.
    - Other keywords (``start``, ``rank``, ``world``, ``timeout``) go to
      :class:`mogen.Client`, which is created on the first pass, in the
      process that iterates.

    Dtypes: ``x`` as the daemon sends it (uint8 or float32); one-hot and
    multi-hot labels float32; index labels int64.
    """

    def __init__(self, socket_path, stream, epochs=None, channels_first=False, copy=False,
                 **client_kwargs):
        super().__init__()
        if epochs is not None and epochs < 1:
            raise ValueError(f"epochs must be None or at least 1, not {epochs}")
        self.socket_path = socket_path
        self.stream = stream
        self.epochs = epochs
        self.channels_first = channels_first
        self.copy = copy
        self.client_kwargs = client_kwargs
        self.client = None

    def connect(self):
        """Opens the connection now (it otherwise opens on the first pass)."""
        if self.client is None:
            self.client = Client(self.socket_path, self.stream, copy=self.copy,
                                 **self.client_kwargs)
        return self.client

    @property
    def steps_per_epoch(self):
        return self.connect().steps_per_epoch

    @property
    def outputs(self):
        return self.connect().outputs

    @property
    def position(self):
        """``(epoch, batch)`` of the next batch this dataset will yield: save
        it with a checkpoint and pass it back as ``start=`` to resume."""
        return self.connect().position

    def __len__(self):
        """Batches per pass (so tqdm and friends can show progress)."""
        return self.steps_per_epoch * (self.epochs or 1)

    def convert(self, x, y):
        """Returns (x, y) as tensors with the dtypes described above."""
        xt = _tensor(x)
        if self.channels_first and self.client.image.get("layout", "NHWC") == "NHWC" \
                and xt.dim() == 4:
            xt = xt.permute(0, 3, 1, 2)
        yt = {}
        for name, arr in y.items():
            if arr.dtype.kind in "iu":
                yt[name] = torch.from_numpy(arr.astype(np.int64))
            else:
                yt[name] = _tensor(arr)
        return xt, yt

    def __iter__(self):
        client = self.connect()
        for _ in range(self.epochs or 1):
            for x, y, _info in client.epoch():
                yield self.convert(x, y)

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
