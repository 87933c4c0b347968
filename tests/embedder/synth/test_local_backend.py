"""The local transformers backend on a tiny random causal LM: chat template, begun answers, seeds, stops."""

from __future__ import annotations

import json

import pytest

from embedder.synth.backends import BackendError, LocalBackend, _JsonClosed, _StringClosed

CHAT = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% if not loop.last %}\n{% endif %}{% endfor %}"
CHAT += "{% if add_generation_prompt %}\n<assistant>{% endif %}"


@pytest.fixture(scope="module")
def tiny_chat_lm(tmp_path_factory):
    """The tiny test backbone's tokenizer with a chat template, on a random Qwen2 causal LM head."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, Qwen2ForCausalLM

    from embedder.backbones import backbone_path

    source = backbone_path("tiny")
    out = tmp_path_factory.mktemp("tiny-chat")
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    tokenizer.chat_template = CHAT
    tokenizer.save_pretrained(out)
    torch.manual_seed(0)
    Qwen2ForCausalLM(AutoConfig.from_pretrained(str(source))).save_pretrained(out)
    return out


def test_local_backend_continues_the_begun_answer_and_is_seeded(tiny_chat_lm):
    backend = LocalBackend(str(tiny_chat_lm))
    messages = [{"role": "user", "content": "Write JSON."}]
    first = backend.complete(messages, seed=3, temperature=1.0, max_tokens=12, prefix='{"S1": "')
    again = backend.complete(messages, seed=3, temperature=1.0, max_tokens=12, prefix='{"S1": "')
    other = backend.complete(messages, seed=4, temperature=1.0, max_tokens=12, prefix='{"S1": "')
    assert first.text.startswith('{"S1": "') and first == again and other.text != first.text
    assert first.finish_reason == "length"  # a random model never closes the object


def test_local_backend_writes_json_key_by_key(tiny_chat_lm):
    backend = LocalBackend(str(tiny_chat_lm))
    answer = backend.complete(
        [{"role": "user", "content": "JSON"}], seed=1, temperature=1.0, max_tokens=192, json_keys=("text", "paraphrase")
    )
    assert answer.text.startswith('{"text": "')
    if answer.finish_reason == "stop":  # every value closed: the backend wrote the rest of the syntax
        assert set(json.loads(answer.text)) == {"text", "paraphrase"}
    else:
        assert answer.finish_reason == "length"


def test_string_value_stops_at_the_unescaped_quote(tiny_chat_lm):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_chat_lm))
    stop = _StringClosed(tokenizer, '{"text": "', prompt_len=0)
    assert stop.cut('say \\"hi\\" now", "more') == 'say \\"hi\\" now'


def test_local_backend_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(BackendError, match="not a Hugging Face model folder"):
        LocalBackend(str(tmp_path))


def test_generation_stops_when_the_json_closes(tiny_chat_lm):
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_chat_lm))
    stop = _JsonClosed(tokenizer, '{"S1": "', prompt_len=1)
    open_ids = torch.tensor([[0, *tokenizer.encode('a b", "S2": "c')]])
    closed_ids = torch.tensor([[0, *tokenizer.encode('a b", "S2": "c"} and more')]])
    assert not stop(open_ids, None).item()
    assert stop(closed_ids, None).item() and stop.closed
