"""harness.models: selbench's model configs, and refusing any model open_clip would download."""
import pytest

from harness.errors import SelbenchError
from harness.models import check_offline_model


@pytest.mark.parametrize("name", ["selbench-tiny", "selbench-minimal", "ViT-B-32", "RN50"])
def test_local_configs_pass(name):
    assert check_offline_model(name) == name


@pytest.mark.parametrize("name, fragment", [
    ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "would be downloaded"),
    ("https://example.org/model.pt", "would be downloaded"),
    ("roberta-ViT-B-32", "Hugging Face model roberta-base"),   # HF text tower: downloaded weights
    ("ViT-B-32-nope", "unknown model architecture"),
    ("", "is not a model name"),
    (None, "is not a model name"),
])
def test_models_that_would_download_are_refused(name, fragment, monkeypatch):
    """Refused before open_clip is asked to fetch anything: no download function is reached."""
    import open_clip.factory
    import open_clip.pretrained

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    for module in (open_clip.factory, open_clip.pretrained):
        for attr in ("download_pretrained_from_hf", "download_pretrained", "_get_hf_config"):
            if hasattr(module, attr):
                monkeypatch.setattr(module, attr, no_network)
    with pytest.raises(SelbenchError, match=fragment) as info:
        check_offline_model(name, "scale.model")
    assert "offline by default" in str(info.value) and "\n" not in str(info.value)
