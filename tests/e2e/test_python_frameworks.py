"""mogen.torch and mogen.keras over a real mogend: dtypes, shapes, and training that learns.

The PNG dataset's labels are functions of each image's colour (the dominant
channel and its brightness), so a tiny model must be able to lower its loss.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

from conftest import HEIGHT, WIDTH  # noqa: E402


def test_torch_dataset_tensors_and_dtypes(mogend, png_data):
    import torch
    import mogen.torch
    d = mogend(png_data.config(encoding="index"))
    ds = mogen.torch.Dataset(d.socket, "validation", channels_first=True)
    try:
        batches = list(ds)
        assert len(batches) == len(ds) == 3
        x, y = batches[0]
        assert x.dtype == torch.uint8 and tuple(x.shape) == (5, 3, HEIGHT, WIDTH)
        assert y["category_output"].dtype == torch.int64
        assert tuple(y["flag_output"].shape) == (5,)
        assert sum(b[0].shape[0] for b in batches) == 13
        assert len(list(ds)) == 3, "a second pass is the next epoch"
    finally:
        ds.close()
    d2 = mogend(png_data.config(dtype="float32"))
    ds = mogen.torch.Dataset(d2.socket, "validation", copy=True)
    try:
        x, y = next(iter(ds))
        assert x.dtype == torch.float32 and tuple(x.shape) == (5, HEIGHT, WIDTH, 3)
        assert float(x.max()) <= 1.0 and y["category_output"].dtype == torch.float32
        assert tuple(y["category_output"].shape) == (5, 3)
        x += 1  # copy=True tensors are owned and writable
    finally:
        ds.close()


def test_torch_dataset_position_resumes_byte_identical(mogend, png_data):
    """Dataset.position, saved mid-epoch and passed back as start=, gives the
    batches an uninterrupted run gives (as docs/python.md promises)."""
    import mogen.torch
    d = mogend(png_data.config())
    ds = mogen.torch.Dataset(d.socket, "validation", start=(3, 0))
    try:
        whole = [x.numpy().tobytes() for x, _ in ds]     # epoch 3, uninterrupted
    finally:
        ds.close()
    ds = mogen.torch.Dataset(d.socket, "validation", start=(3, 0))
    try:
        it = iter(ds)
        next(it)
        saved = ds.position
        assert saved == (3, 1)
    finally:
        ds.close()
    ds = mogen.torch.Dataset(d.socket, "validation", start=saved)
    try:
        rest = [x.numpy().tobytes() for x, _ in ds]
    finally:
        ds.close()
    assert len(whole) == 3 and rest == whole[1:]


def test_torch_dataset_trains_a_tiny_model_and_the_loss_falls(mogend, png_data):
    import torch
    import torch.nn.functional as F
    import mogen.torch
    d = mogend(png_data.config(encoding="index"))
    torch.manual_seed(0)
    trunk = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU())
    heads = torch.nn.ModuleDict({"category_output": torch.nn.Linear(16, 3),
                                 "flag_output": torch.nn.Linear(16, 2)})
    params = list(trunk.parameters()) + list(heads.parameters())
    opt = torch.optim.Adam(params, lr=0.05)
    ds = mogen.torch.Dataset(d.socket, "train", epochs=12, channels_first=True)
    losses = []
    try:
        for x, y in ds:
            feats = trunk(x.float().mean(dim=(2, 3)) / 255.0)
            loss = sum(F.cross_entropy(heads[k](feats), y[k]) for k in heads)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        ds.close()
    assert len(losses) == 12 * 5
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < 0.6 * first, f"loss did not fall: {first:.3f} -> {last:.3f}"


def test_keras_fit_two_output_model_with_validation_stream(mogend, png_data):
    import keras
    import mogen.keras
    assert keras.backend.backend() == "jax"
    d = mogend(png_data.config())
    train = mogen.keras.Sequence(d.socket, "train")
    val = mogen.keras.Sequence(d.socket, "validation")
    try:
        assert isinstance(train, keras.utils.PyDataset)
        assert len(train) == 5 and len(val) == 3
        keras.utils.set_random_seed(0)
        inputs = keras.Input(shape=(HEIGHT, WIDTH, 3))
        z = keras.layers.Rescaling(1 / 255)(inputs)
        z = keras.layers.GlobalAveragePooling2D()(z)
        z = keras.layers.Dense(16, activation="relu")(z)
        outputs = [keras.layers.Dense(len(o.classes), activation="softmax", name=o.name)(z)
                   for o in train.outputs]
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(0.05),
                      loss={o.name: "categorical_crossentropy" for o in train.outputs},
                      metrics={o.name: "accuracy" for o in train.outputs})
        hist = model.fit(train, validation_data=val, epochs=10, verbose=0).history
        assert "val_loss" in hist and len(hist["val_loss"]) == 10
        assert hist["loss"][-1] < 0.6 * hist["loss"][0], hist["loss"]
        assert hist["val_loss"][-1] < hist["val_loss"][0], hist["val_loss"]
        # fit took exactly len(train) batches per epoch: the stream is at an epoch start.
        assert train.position == (10, 0) and val.position == (10, 0)
    finally:
        train.close()
        val.close()
