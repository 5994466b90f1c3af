"""course_lib.pretrained: the real ImageNet ResNet-50 in the course's own model."""

import pytest
import torch
import torchvision

from course_lib import assets, pretrained


@pytest.fixture(scope="module")
def net():
    assets.fetch("resnet50-imagenet", log=lambda line: None)
    return pretrained.imagenet_resnet50()


@pytest.fixture(scope="module")
def hopper():
    return pretrained.grace_hopper()


def test_grace_hopper_is_a_military_uniform(net, hopper):
    assert net.source == "npm"
    top = net.top_k(hopper, 5)
    assert top[0][0] == "military uniform" and top[0][1] > 0.5
    assert len(top) == 5 and all(p1 >= p2 for (_, p1), (_, p2) in zip(top, top[1:]))


def test_course_model_equals_patched_torchvision(net, hopper):
    x = net.preprocess(hopper).unsqueeze(0)
    assert x.shape == (1, 3, 224, 224)
    tv = pretrained.torchvision_resnet50_v1()
    with torch.no_grad():
        torch.testing.assert_close(net.model(x), tv(x), rtol=0, atol=1e-4)


def test_the_v1_stride_matters(hopper):
    """The same weights in torchvision's unpatched v1.5 layout see a different photo."""
    model = torchvision.models.resnet50(weights=None)
    model.load_state_dict(pretrained.v1_state_dict())
    x = pretrained.PREPROCESS(hopper).unsqueeze(0)
    with torch.no_grad():
        top1 = model.eval()(x).argmax(1).item()
    assert pretrained.CATEGORIES[top1] != "military uniform"


def test_model_is_in_eval_mode_and_top_k_leaves_it_so(net, hopper):
    assert not net.model.training
    before = net.model.stem[1].running_mean.clone()
    net.top_k(hopper)
    assert not net.model.training
    assert torch.equal(before, net.model.stem[1].running_mean)


def test_npm_labels_are_torchvisions_order(net):
    labels = pretrained.npm_labels()
    differ = [(a, b) for a, b in zip(labels, pretrained.CATEGORIES) if a.replace("_", " ").lower() != b.lower()]
    assert len(labels) == 1000 and differ == [("crane", "crane bird"), ("maillot", "maillot tank suit")]


def test_bad_source():
    with pytest.raises(ValueError, match="source must be"):
        pretrained.imagenet_resnet50(source="imagenet")


def test_photo_predictor_widget(net):
    import datetime
    import io

    from PIL import Image

    from course_lib.widgets import photo_predictor

    box = photo_predictor(net)                      # starts on Grace Hopper
    assert box.state["top"][0][0] == "military uniform"
    assert "military uniform" in box.message.value and box.image.value[:4] == b"\x89PNG"
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).rotate(0).save(buf, format="PNG")
    box.upload.value = ({"name": "red.png", "type": "image/png", "size": len(buf.getvalue()),
                         "content": memoryview(buf.getvalue()),
                         "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert box.message.value.startswith("red.png") and len(box.state["top"]) == 5
    box.show("notes.txt", b"not an image")
    assert "not an image" in box.message.value and box.state["top"] is None and box.image.value == b""


def test_torchvision_copy_in_either_layout(net, hopper):
    x = net.preprocess(hopper).unsqueeze(0)
    same, other = pretrained.torchvision_copy(net), pretrained.torchvision_copy(net, other_layout=True)
    assert same.layer2[0].conv1.stride == (2, 2) and other.layer2[0].conv2.stride == (2, 2)
    with torch.no_grad():
        torch.testing.assert_close(same(x), net.model(x), rtol=0, atol=1e-4)
        assert pretrained.CATEGORIES[other(x).argmax(1).item()] != "military uniform"
