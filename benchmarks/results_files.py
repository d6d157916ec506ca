"""Writing a benchmark's results: ``<output>.json`` (the document) and ``<output>.md`` (its table)."""
from __future__ import annotations

import json
from typing import Callable


def write_results(doc: dict, output: str, markdown: Callable[[dict], str]) -> None:
    """``doc`` as indented JSON to ``output + '.json'`` and ``markdown(doc)`` to ``output + '.md'``."""
    with open(output + ".json", "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(output + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(doc))
    print(f"wrote {output}.json and {output}.md")
