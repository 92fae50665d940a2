"""The static encoder distilled from the packaged MiniLM (irpo.reward_model.encoder=minilm-static)."""
import numpy as np
import pytest

from judge.encoder import SentenceEncoder, packaged_minilm_dir
from judge.static_encoder import TABLE_FILE, StaticEncoder


@pytest.mark.slow
def test_static_encoder_distils_once_and_ranks_related_texts_as_minilm_does(tmp_path):
    cache = tmp_path / "static"
    encoder = StaticEncoder.distilled(packaged_minilm_dir(), cache)
    assert (cache / TABLE_FILE).is_file() and encoder.dim == 256
    table = (cache / TABLE_FILE).read_bytes()
    StaticEncoder.distilled(packaged_minilm_dir(), cache)  # reused, not distilled again
    assert (cache / TABLE_FILE).read_bytes() == table
    texts = ["the best coffee beans for espresso", "a cup of coffee in the morning", "running shoes with soft soles",
             "a tent for camping in the rain"]
    static, minilm = encoder.encode(texts), SentenceEncoder.packaged().encode(texts)
    assert np.allclose(np.linalg.norm(static, axis=1), 1, atol=1e-5)
    for vectors in (static, minilm):
        similarity = vectors @ vectors.T
        assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3])  # coffee goes with coffee
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    order = np.corrcoef([static[i] @ static[j] for i, j in pairs], [minilm[i] @ minilm[j] for i, j in pairs])[0, 1]
    assert order > 0.8
