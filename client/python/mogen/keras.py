"""A Keras-style sequence over a mogen stream.

    import mogen.keras
    train = mogen.keras.Sequence(sock, "train")
    val = mogen.keras.Sequence(sock, "validation")
    model.fit(train, validation_data=val, epochs=10)

:class:`Sequence` has the ``keras.utils.PyDataset`` shape (``__len__``,
``__getitem__``, ``on_epoch_end``) and subclasses PyDataset, so ``model.fit``
treats it as one. Set ``KERAS_BACKEND`` before importing this module; if Keras
cannot be imported, the import still succeeds but ``Sequence()`` raises an
ImportError that names the cause and the fix. Access is SEQUENTIAL, not
random: ``seq[i]`` returns the stream's next batch whatever ``i`` is (the
daemon decides the order, shuffled per epoch with its seed), so Keras's own
``shuffle`` argument has no effect. (One exception keeps Keras epochs aligned
with the daemon's: see ``Sequence.__getitem__``.) Batches are owned copies, because Keras
may hold several batches at once (prefetching).
"""

import os

from .client import Client

# Keras is imported here, not by `import mogen`; this module still imports
# without a usable Keras (so `import mogen.keras` never breaks a script that
# only uses mogen.Client), but Sequence() then raises an ImportError saying why.
try:
    from keras.utils import PyDataset as _Base
    _KERAS_ERROR = None
except Exception as e:  # ImportError, or a Keras whose backend fails to load
    _Base = object
    _KERAS_ERROR = e


def _keras_missing():
    e = _KERAS_ERROR
    backend = os.environ.get("KERAS_BACKEND")
    backend = (f"KERAS_BACKEND={backend}" if backend is not None else
               "KERAS_BACKEND is unset, so Keras takes ~/.keras/keras.json's backend, "
               "else tensorflow")
    return ImportError(
        f"mogen.keras.Sequence needs Keras 3 with a working backend, but `import keras` "
        f"failed ({type(e).__name__}: {e}; {backend}). Install Keras and a backend "
        f"(pip install \"keras>=3\" \"jax[cpu]\") and choose the backend before "
        f"importing mogen.keras: os.environ[\"KERAS_BACKEND\"] = \"jax\" in Python, "
        f"or KERAS_BACKEND=jax in the environment.")


class Sequence(_Base):
    """``len(seq)`` batches per epoch; ``seq[i]`` is the next ``(x, y)``.

    ``y`` is ``{output_name: labels}``, so build the model's outputs as a dict
    keyed the same way (``{o.name: head for o in seq.outputs}``). Not a list:
    Keras 3 pairs a list of outputs by position with ``y``'s keys in SORTED
    order, which is the config's order only by chance. (The sequence cannot
    fix that itself: it does not know the model.) Extra keyword arguments
    (``start``, ``rank``, ``world``, ``timeout``) go to :class:`mogen.Client`.
    The connection opens in the constructor and closes with ``close()``.
    """

    def __init__(self, socket_path, stream, workers=1, use_multiprocessing=False,
                 max_queue_size=10, **client_kwargs):
        if _KERAS_ERROR is not None:
            raise _keras_missing() from _KERAS_ERROR
        if workers != 1 or use_multiprocessing:
            # Parallel __getitem__ calls would each take "the next" batch in
            # an arbitrary order; the daemon already decodes in parallel.
            raise ValueError("mogen.keras.Sequence is sequential: use workers=1 and "
                             "use_multiprocessing=False (mogend does the parallel work)")
        super().__init__(workers=1, use_multiprocessing=False, max_queue_size=max_queue_size)
        client_kwargs["copy"] = True
        self.client = Client(socket_path, stream, **client_kwargs)
        self.stream = stream
        # Batches remembered per daemon epoch for replay (see __getitem__);
        # owned copies, so a few small batches of memory.
        self.replay = 4
        self._replay = {}
        self._replay_epoch = None

    @property
    def outputs(self):
        return self.client.outputs

    @property
    def output_names(self):
        return self.client.output_names

    @property
    def batch_size(self):
        return self.client.batch_size

    @property
    def position(self):
        """(epoch, batch) of the next batch; pass as ``start=`` to resume."""
        return self.client.position

    def __len__(self):
        return self.client.steps_per_epoch

    def __getitem__(self, index):
        """Returns the stream's next ``(x, y)``, or replays one (see below).

        Keras (the JAX trainer, when it builds the model) starts a pass, takes
        a batch or two, and abandons it before the real first epoch. To keep
        Keras epochs aligned with the daemon's, the first few batches of each
        daemon epoch are remembered under the index Keras asked for them with;
        asking for such an index again in the same daemon epoch replays that
        batch instead of taking a new one. Every batch of an epoch is still
        used once per Keras epoch, in whatever index order Keras asks
        (``shuffle=True`` included).
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"batch {index} of a {n}-batch epoch")
        index %= n
        if index in self._replay:
            return self._replay[index]
        x, y, info = self.client.next_batch()
        if info["epoch"] != self._replay_epoch:
            self._replay_epoch = info["epoch"]
            self._replay = {}
        if len(self._replay) < self.replay:
            self._replay[index] = (x, y)
        if self.client.position[0] != info["epoch"]:  # that was the epoch's last batch
            self._replay = {}
        return x, y

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def on_epoch_end(self):
        """Nothing to do: the daemon reshuffles each epoch by itself."""

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The name Keras users look for.
PyDataset = Sequence
