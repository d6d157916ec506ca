"""The one diagnostic record every rule emits and every formatter reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional


@dataclass(frozen=True)
class Diagnostic:
    rule: str  # stable code, e.g. SNN101
    name: str  # kebab-case rule name, e.g. int-float-multiplication
    severity: str  # error | warning | note
    message: str
    module: str  # module path as named_modules() spells it ("" = root)
    op: str  # IR op
    node: str  # IR node name
    input_domain: str  # e.g. int[0,4]
    region: str  # encoding | body | readout
    file: Optional[str]
    line: Optional[int]
    fix: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "<unknown>"

    def to_dict(self) -> dict:
        return asdict(self)
