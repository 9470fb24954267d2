"""Write the generated task sets bundled with the package (deterministic; re-running gives the same files).

    python scripts/make_task_data.py   ->  rlar_jax/datasets/bundled/{ifgen,arith}/{train,eval}.jsonl.gz
"""

import gzip
import json
from pathlib import Path

from rlar_jax.datasets import arithmetic, constraints

OUT = Path(__file__).resolve().parents[1] / "rlar_jax" / "datasets" / "bundled"
SIZES = {"train": 2000, "eval": 400}


def write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same rows give the same bytes
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode())


def main() -> None:
    for split, n in SIZES.items():
        write(OUT / "ifgen" / f"{split}.jsonl.gz", constraints.generate(split, n))
        write(OUT / "arith" / f"{split}.jsonl.gz", arithmetic.generate(split, n))
    print(f"wrote {OUT}/ifgen and {OUT}/arith")


if __name__ == "__main__":
    main()
