"""Student initialisation: every init gives the right shapes and a loadable checkpoint; "pca"
copies the projected teacher tables and decoder rows; "inherit" copies the teacher's selected
layers, heads and neurons through the PCA basis; bad inputs are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bortkit.arch import ArchSpec
from bortkit.pretrain import teacher_head
from bortkit.pretrain.init import INITS, embedding_pca, init_student

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def teacher(tiny_teacher, lee_corpus):
    return tiny_teacher(lee_corpus(40))


@pytest.fixture(scope="module")
def vocab(teacher):
    return teacher_head.teacher_vocab(teacher)


@pytest.fixture(scope="module")
def pca(teacher):
    return embedding_pca(teacher)


def _spec(tokenizer, d=2, a=4, h=32, i=48):
    return ArchSpec(d, a, h, i, vocab_size=len(tokenizer), max_position_embeddings=64)


def test_pca_is_an_orthonormal_basis_of_the_teacher_embeddings(teacher, pca):
    word = teacher.bert.embeddings.word_embeddings.weight.detach().numpy()
    assert pca.components.shape == (64, 64)
    assert np.allclose(pca.components @ pca.components.T, np.eye(64), atol=1e-4)
    assert np.allclose(pca.word, word @ pca.components.T, atol=1e-4)
    var = (pca.word - pca.word.mean(0)).var(0)
    assert (np.diff(var) <= 1e-6).all()  # coordinates by decreasing variance
    assert pca.project("word", 80)[:, 64:].max() == 0  # H beyond the teacher's: zero-padded


@pytest.mark.parametrize("init", INITS)
def test_every_init_has_the_right_shapes_and_round_trips(tmp_path, tokenizer, teacher, vocab,
                                                         pca, init):
    spec = _spec(tokenizer)
    model = init_student(spec, vocab, init=init, seed=3, pca=pca, teacher=teacher)
    assert model.bert.embeddings.word_embeddings.weight.shape == (len(tokenizer), 32)
    assert model.cls.decoder.weight.shape == (vocab.size, 32)
    assert model.config.restricted_vocab_size == vocab.size
    assert teacher_head.teacher_vocab(model) == vocab
    assert len(model.bert.encoder.layer) == 2
    ids = torch.randint(1000, 2000, (2, 16))
    model.eval()
    with torch.inference_mode():
        z = model(input_ids=ids)
    assert z.shape == (2, 16, vocab.size)
    model.save_pretrained(tmp_path / "s")
    back = teacher_head.model_class().from_pretrained(tmp_path / "s").eval()
    assert teacher_head.teacher_vocab(back) == vocab
    with torch.inference_mode():
        assert torch.allclose(back(input_ids=ids), z, atol=1e-5)
    # seeded: the same call gives the same weights
    again = init_student(spec, vocab, init=init, seed=3, pca=pca, teacher=teacher)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))


def test_pca_init_copies_projected_tables(tokenizer, vocab, pca):
    model = init_student(_spec(tokenizer), vocab, init="pca", pca=pca, freeze_embeddings=True)
    emb = model.bert.embeddings
    assert np.allclose(emb.word_embeddings.weight.detach().numpy(), pca.word[:, :32])
    assert np.allclose(emb.position_embeddings.weight.detach().numpy(), pca.position[:64, :32])
    dec = model.cls.decoder
    assert np.allclose(dec.weight.detach().numpy(), pca.word[np.asarray(vocab.ids), :32])
    assert torch.equal(model.cls.transform.dense.weight.detach(), torch.eye(32))
    log_u = np.log(vocab.unigram())
    assert np.allclose(dec.bias.detach().numpy(), log_u - log_u.mean(), atol=1e-5)
    assert not emb.word_embeddings.weight.requires_grad
    assert not emb.position_embeddings.weight.requires_grad
    assert dec.weight.requires_grad and emb.LayerNorm.weight.requires_grad
    random = init_student(_spec(tokenizer), vocab, init="random")
    assert random.bert.embeddings.word_embeddings.weight.requires_grad


def test_inherit_takes_heads_layers_and_neurons_through_the_basis(tokenizer, teacher, vocab,
                                                                  pca):
    # head size 64 / 2 = 32 = the teacher's: exact head selection; D = 1 takes layer 0
    spec = ArchSpec(1, 1, 32, 16, vocab_size=len(tokenizer), max_position_embeddings=64)
    s = init_student(spec, vocab, init="inherit", pca=pca, teacher=teacher)
    p = torch.from_numpy(pca.basis(32))
    t_layer, s_layer = teacher.bert.encoder.layer[0], s.bert.encoder.layer[0]
    w_o = t_layer.attention.output.dense.weight.view(64, 2, 32).pow(2).sum(dim=(0, 2))
    head = int(w_o.argmax())
    dims = slice(head * 32, (head + 1) * 32)
    with torch.no_grad():
        q_t, q_s = t_layer.attention.self.query, s_layer.attention.self.query
        assert torch.allclose(q_s.weight, q_t.weight[dims] @ p, atol=1e-6)
        assert torch.allclose(q_s.bias, q_t.bias[dims])
        score = (t_layer.intermediate.dense.weight.norm(dim=1)
                 * t_layer.output.dense.weight.norm(dim=0))
        neurons = score.argsort(descending=True)[:16].sort().values
        assert torch.allclose(s_layer.intermediate.dense.weight,
                              t_layer.intermediate.dense.weight[neurons] @ p, atol=1e-6)
        assert torch.allclose(s.cls.decoder.weight, teacher.cls.decoder.weight @ p, atol=1e-6)
    # the full shape keeps the teacher close: far better than a random student at step 0
    full = init_student(_spec(tokenizer, 2, 2, 64, 64), vocab, init="inherit", teacher=teacher)
    rand = init_student(_spec(tokenizer, 2, 2, 64, 64), vocab, init="random", seed=5)
    ids = torch.randint(1000, 3000, (4, 16))
    with torch.inference_mode():
        z_t = teacher(input_ids=ids).log_softmax(-1)

        def kl(m):
            z = m.eval()(input_ids=ids).log_softmax(-1)
            return float((z_t.exp() * (z_t - z)).sum(-1).mean())

        assert kl(full) < 0.5 * kl(rand)


def test_bad_inputs_are_named(tokenizer, teacher, vocab, pca):
    with pytest.raises(ValueError, match="init"):
        init_student(_spec(tokenizer), vocab, init="warm")
    with pytest.raises(ValueError, match="vocab_size"):
        init_student(ArchSpec(1, 2, 32, 64, vocab_size=100), vocab, init="random")
    with pytest.raises(ValueError, match="needs the teacher"):
        init_student(_spec(tokenizer), vocab, init="pca")
    with pytest.raises(ValueError, match="needs the teacher model"):
        init_student(_spec(tokenizer), vocab, init="inherit", pca=pca)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        init_student(ArchSpec(1, 2, 32, 64, vocab_size=len(tokenizer)), vocab, init="pca",
                     pca=pca)
