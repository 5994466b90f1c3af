import datetime
import io

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib import predict
from course_lib.models import cifar_resnet
from course_lib.predict import ImageInputError, preprocess, read_image, to_mnist_style


def _png(array, mode=None):
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def _ink_on_paper(size=100, box=(20, 40, 60, 70)):
    img = np.full((size, size), 240, dtype=np.uint8)
    y0, y1, x0, x1 = box
    img[y0:y1, x0:x1] = 10                      # a dark block of "ink", off-centre
    return img


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"plain text, not an image", "not an image"),
    (_png(_ink_on_paper())[:120], "corrupt or truncated"),
    (_png(np.full((64, 64), 255, dtype=np.uint8)), "blank"),
    (_png(np.zeros((4, 4), dtype=np.uint8)), "too small"),
])
def test_bad_inputs_give_clear_messages(data, match):
    with pytest.raises(ImageInputError, match=match):
        preprocess(data)


def test_mnist_conventions():
    out = to_mnist_style(read_image(_png(_ink_on_paper())) )
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0].max() == 0 and out.max() == 255            # inverted: white digit on black
    rows, cols = np.nonzero(out > 50)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21   # fits 20×20
    mass = out.astype(float)
    cy = (mass.sum(1) * np.arange(28)).sum() / mass.sum()
    cx = (mass.sum(0) * np.arange(28)).sum() / mass.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1        # centred by its centre of mass


def test_modes_rgba_palette_and_16bit():
    rgba = np.zeros((50, 50, 4), dtype=np.uint8)
    rgba[10:40, 20:30, 3] = 255                              # black ink, transparent paper
    a = preprocess(_png(rgba, "RGBA"))
    p_img = Image.fromarray(_ink_on_paper(50, (10, 40, 20, 30))).convert("P")
    buf = io.BytesIO(); p_img.save(buf, format="GIF")
    b = preprocess(buf.getvalue())
    wide = (_ink_on_paper(50, (10, 40, 20, 30)).astype(np.uint16) * 257)
    buf16 = io.BytesIO(); Image.fromarray(wide).save(buf16, format="PNG")
    c = preprocess(buf16.getvalue())
    assert a.shape == b.shape == c.shape == (1, 1, 32, 32)
    assert torch.allclose(a, b, atol=0.2) and torch.allclose(b, c, atol=0.2)


def test_samples_top_k_and_widget():
    samples = predict.sample_images(3)
    assert len(samples) == 3 and any(n.endswith(".jpg") for n in samples)
    model = cifar_resnet(8).train()
    x = preprocess(next(iter(samples.values())))
    top = predict.top_k(model, x, k=3)
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1] and model.training
    fig = predict.plot_prediction(x, top)
    assert fig.axes[1].get_xlabel() == "probability"
    from course_lib.widgets import upload_predictor
    box = upload_predictor(model, samples)
    box.show("notes.txt", b"hello")
    assert "not an image" in box.message.value and box.state["top"] is None
    box.choice.value = sorted(samples)[0]
    assert "predicted" in box.message.value and box.image.value[:4] == b"\x89PNG"
    box.upload.value = ({"name": "bad.png", "type": "image/png", "size": 3, "content": memoryview(b"abc"),
                         "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert "bad.png" in box.message.value and "not an image" in box.message.value


def test_sample_images_come_from_the_test_split_only():
    from course_lib.data import split_indices
    from course_lib.predict import sample_indices

    split = split_indices(seed=0)
    for seed in range(5):
        picks = set(sample_indices(4, seed).tolist())
        assert picks <= set(split["test"].tolist())
        assert not picks & (set(split["train"].tolist()) | set(split["dev"].tolist()))


def test_split_indices_match_load_mnist():
    from course_lib.data import bundled_arrays, load_mnist, split_indices

    _, labels = bundled_arrays()
    data, idx = load_mnist(300, 50, 60, seed=3), split_indices(300, 50, 60, seed=3)
    assert data.test.y.tolist() == labels[idx["test"]].tolist()
    assert data.train.y.tolist() == labels[idx["train"]].tolist()


def test_huge_declared_size_is_refused_before_decoding():
    import struct
    import time
    import zlib

    from course_lib.predict import ImageInputError, read_image

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)          # 50,000 × 50,000 grey
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    start = time.perf_counter()
    with pytest.raises(ImageInputError, match="pixels|decompression bomb"):
        read_image(png)
    assert time.perf_counter() - start < 5


def test_exif_orientation_is_honoured():
    from PIL import Image

    from course_lib.predict import read_image

    img = Image.new("L", (40, 20), color=255)
    img.paste(0, (0, 0, 10, 20))                                     # a dark bar on the left
    exif = Image.Exif()
    exif[0x0112] = 6                                                 # "rotate 90° clockwise to view"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    arr = read_image(buf.getvalue())
    assert arr.shape == (40, 20)                                     # rotated: now tall
    assert arr[:10].mean() < 0.2 and arr[-10:].mean() > 0.8          # the bar is now at the top
