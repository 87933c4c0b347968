"""Chat backends for synthesis: any OpenAI-compatible chat-completions server, or a local transformers LM."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    """A model answer and why it stopped ("stop", or "length" when it hit the token limit)."""

    text: str
    finish_reason: str | None


class ChatBackend(Protocol):
    """What the synthesis loop needs from a model."""

    max_concurrency: int

    def complete(
        self,
        messages: list[dict],
        *,
        seed: int,
        temperature: float,
        max_tokens: int,
        prefix: str = "",
        json_keys: tuple[str, ...] = (),
    ) -> Completion:
        """One sampled chat completion; `prefix` and `json_keys` guide the answer where the backend can."""
        ...


class BackendError(RuntimeError):
    """Raised when a backend cannot answer (after retries, for the HTTP one)."""


RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAIBackend:
    """POST {base_url}/chat/completions (OpenAI, vLLM, Ollama, llama.cpp server), with retries and backoff.

    429, 5xx, timeouts and connection errors are retried up to `max_retries` times, waiting
    `backoff_s * 2**k` (plus jitter, capped at `max_backoff_s`, or the server's Retry-After when given).
    Other 4xx answers fail at once: they will not get better by asking again.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ):
        import httpx

        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.retries = 0  # total retried requests, for the summary

    def _wait_s(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff_s)
            except ValueError:
                pass
        return min(self.backoff_s * 2**attempt * (1 + random.random() / 2), self.max_backoff_s)

    def complete(
        self,
        messages: list[dict],
        *,
        seed: int,
        temperature: float,
        max_tokens: int,
        prefix: str = "",
        json_keys: tuple[str, ...] = (),
    ) -> Completion:
        """One chat completion; retries transient failures, raises BackendError on the rest.

        `prefix` and `json_keys` are ignored: servers disagree on continuing a partial assistant turn and on
        structured output, and the large models they serve follow the JSON instruction without help.
        """
        import httpx

        body = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "seed": seed,
        }
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = self._client.post(self.url, json=body)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return self._parse(response)
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in RETRY_STATUS:
                    hint = " (check --api-key-env)" if response.status_code in (401, 403) else ""
                    raise BackendError(f"{self.url} answered {problem}{hint}")
                retry_after = response.headers.get("retry-after")
            if attempt == self.max_retries:
                break
            self.retries += 1
            wait_s = self._wait_s(attempt, retry_after)
            log.warning("%s: %s; retrying in %.1fs", self.url, problem, wait_s)
            time.sleep(wait_s)
        raise BackendError(
            f"{self.url} failed {self.max_retries + 1} times, last with {problem}; "
            "check --base-url and the server, then re-run the same command to resume"
        )

    def _parse(self, response) -> Completion:
        try:
            choice = response.json()["choices"][0]
            return Completion(choice["message"]["content"] or "", choice.get("finish_reason"))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendError(
                f"{self.url} did not answer in the chat-completions format: {response.text[:200]}"
            ) from exc

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()


class LocalBackend:
    """A transformers causal LM on this machine (default: SmolLM2-135M-Instruct from the backbone registry).

    `model` is a registered backbone name or a Hugging Face folder. fp32 by default: bf16 matmuls are far
    slower on CPUs without native support. One generation at a time (the lock): torch already uses the cores.
    """

    max_concurrency = 1

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        device: str = "cpu",
        dtype: str = "float32",
        top_p: float = 0.95,
        no_repeat_ngram_size: int = 8,
    ):
        from transformers import AutoTokenizer

        from embedder.backbones import BACKBONES, backbone_path

        path = backbone_path(model) if model in BACKBONES else Path(model)
        if not (path / "config.json").exists():
            raise BackendError(
                f"{path} is not a Hugging Face model folder: pass a backbone name ({', '.join(BACKBONES)})"
            )
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        if not self.tokenizer.chat_template:
            raise BackendError(f"{path} has no chat template: use an instruction-tuned model")
        self.path, self.dtype = path, dtype
        self._model = None  # loaded on the first call: a finished run resumed has nothing to generate
        self.device = device
        self.top_p = top_p
        # Small models copy S1 into S2 and S3, or loop; banning repeated 8-token runs (prompt included)
        # stops both without touching JSON syntax, whose runs differ by key name.
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self._lock = threading.Lock()

    def complete(
        self,
        messages: list[dict],
        *,
        seed: int,
        temperature: float,
        max_tokens: int,
        prefix: str = "",
        json_keys: tuple[str, ...] = (),
    ) -> Completion:
        """Sample one answer with the model's chat template; seeded, so the same call gives the same text.

        A `prefix` (e.g. '["') is put at the start of the assistant turn and the model continues it. With
        `json_keys` the answer is a JSON object written key by key: the backend writes `{"key": "` and the
        model only the string value, up to its closing quote (`max_tokens` shared among the values).
        A 135M model rarely keeps to a three-key format unaided; its values are then validated like any.
        """
        if not json_keys:
            text, finish = self._generate(messages, prefix, seed, temperature, max_tokens, _JsonClosed)
            return Completion(prefix + text, finish)
        answer = ""
        per_value = max(64, max_tokens // len(json_keys))
        for i, key in enumerate(json_keys):
            answer += ("{" if i == 0 else ", ") + json.dumps(key) + ': "'
            value, finish = self._generate(messages, answer, seed + i, temperature, per_value, _StringClosed)
            if finish == "length":
                return Completion(answer + value, "length")
            answer += value + '"'
        return Completion(answer + "}", "stop")

    @property
    def model(self):
        """The causal LM, loaded on first use."""
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=getattr(torch, self.dtype))
            self._model = model.to(self.device).eval()
        return self._model

    def _generate(self, messages, prefix, seed, temperature, max_tokens, stop_class) -> tuple[str, str]:
        """New text after `prefix` (cut where `stop_class` says the unit closed) and the finish reason."""
        import torch

        if prefix:
            messages = [*messages, {"role": "assistant", "content": prefix}]
        inputs = self.tokenizer.apply_chat_template(
            messages,
            add_generation_prompt=not prefix,
            continue_final_message=bool(prefix),
            return_tensors="pt",
            return_dict=True,
        ).to(self.device)
        prompt_len = inputs["input_ids"].shape[1]
        stop = stop_class(self.tokenizer, prefix, prompt_len)
        with self._lock, torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(
                **inputs,
                do_sample=temperature > 0,
                temperature=temperature or None,
                top_p=self.top_p,
                max_new_tokens=max_tokens,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                stopping_criteria=[stop],
                no_repeat_ngram_size=self.no_repeat_ngram_size,
            )
        new = out[0, prompt_len:].tolist()
        eos = self.tokenizer.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        ended = bool(new) and new[-1] in eos_ids  # the model finished on its own
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        if stop.closed or ended or len(new) < max_tokens:
            return stop.cut(text), "stop"
        return text, "length"


class _JsonClosed:
    """Stops generation once a begun JSON object or list is closed: small models ramble (or loop) after it."""

    def __init__(self, tokenizer, prefix: str, prompt_len: int):
        self.tokenizer, self.prefix, self.prompt_len = tokenizer, prefix, prompt_len
        self.closed = False

    def _is_closed(self, text: str) -> bool:
        from embedder.synth.validate import closing_index

        return self.prefix[:1] in ("{", "[") and closing_index(self.prefix + text, 0) is not None

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        text = self.tokenizer.decode(input_ids[0, self.prompt_len :], skip_special_tokens=True)
        self.closed = self._is_closed(text)
        return torch.full((input_ids.shape[0],), self.closed, dtype=torch.bool, device=input_ids.device)

    def cut(self, text: str) -> str:
        """The new text up to where the unit closed (all of it when it never did)."""
        from embedder.synth.validate import closing_index

        if self.prefix[:1] not in ("{", "["):
            return text
        end = closing_index(self.prefix + text, 0)
        return text if end is None else text[: end - len(self.prefix)]


class _StringClosed(_JsonClosed):
    """Stops at the first unescaped double quote: the end of the JSON string value being written."""

    _QUOTE = re.compile(r'(?<!\\)"')

    def _is_closed(self, text: str) -> bool:
        return self._QUOTE.search(text) is not None

    def cut(self, text: str) -> str:
        match = self._QUOTE.search(text)
        return text if match is None else text[: match.start()]
