"""MkDocs hook: the claim and experiment pages' facts, generated from the registries at build time.

Markers (each alone on a line):

- ``<!-- advdyn-claims GROUP -->``: every registered claim of ``GROUP`` (:data:`GROUPS`) with its
  id, section, the paper's sentence, what is measured, the rule, the negative control and the
  experiment whose result is judged (``advdyn.claims.all_claims()``);
- ``<!-- advdyn-claims-index -->``: a table of every claim and the page that describes it;
- ``<!-- advdyn-experiment NAME -->``: the registered experiment ``NAME``'s title, description,
  module, the claims judged from its result, and its parameters (defaults and ``--quick``).

A claim whose experiment belongs to no group, or an experiment with no page, fails the build, so
the pages cannot silently fall behind the registries.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from markdown.extensions.toc import slugify

#: Claim pages: group → (page under docs/, the experiments whose claims it lists).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "two-layer": ("claims/two-layer.md",
                  ("lemma41", "lemma42", "lemma43", "lemma44", "lemma45", "theorem31",
                   "corollary31", "threshold")),
    "landscape": ("claims/landscape.md", ("fig1", "phase", "on_sphere", "concentration")),
    "real-network": ("claims/real-network.md", ("fig2", "at_scale")),
}
#: Experiment name → its page under docs/ (several experiments may share one page).
EXPERIMENT_PAGES: dict[str, str] = {
    "fig1": "experiments/fig1.md", "phase": "experiments/phase.md",
    "census": "experiments/census.md", "threshold": "experiments/threshold.md",
    "fig2": "experiments/fig2.md", "at_scale": "experiments/at_scale.md",
    **{name: "experiments/two-layer.md"
       for name in ("lemma41", "lemma42", "lemma43", "lemma44", "lemma45", "theorem31",
                    "corollary31", "on_sphere", "concentration")},
}
CLAIMS = re.compile(r"^<!-- advdyn-claims ([\w-]+) -->$", re.M)
INDEX = "<!-- advdyn-claims-index -->"
EXPERIMENT = re.compile(r"^<!-- advdyn-experiment (\w+) -->$", re.M)


def _plain(text: str) -> str:
    """Plain text (the registries' sentences) safe in Markdown: no emphasis, tags or links."""
    text = text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
    text = text.replace(">", "&gt;")
    return re.sub(r"([*_\[\]`])", r"\\\1", text)


def _link(target: str, page: str, anchor: str = "") -> str:
    """A relative link from ``page`` to ``target`` (both under docs/), with ``#anchor``."""
    depth = page.count("/")
    return "../" * depth + target + (f"#{slugify(anchor, '-')}" if anchor else "")


def _group_of(claim: Any) -> str:
    for group, (_, experiments) in GROUPS.items():
        if claim.experiment in experiments:
            return group
    raise ValueError(f"claim {claim.id!r}: its experiment {claim.experiment!r} is in no group "
                     "of docs/hooks/registry_pages.py GROUPS")


def _experiment_link(name: str, page: str) -> str:
    if name not in EXPERIMENT_PAGES:
        raise ValueError(f"experiment {name!r} has no page in docs/hooks/registry_pages.py")
    return f"[`{name}`]({_link(EXPERIMENT_PAGES[name], page, name)})"


def _claim_link(claim: Any, page: str) -> str:
    return f"[{claim.id}]({_link(GROUPS[_group_of(claim)][0], page, claim.id)})"


def _claims(group: str, page: str) -> str:
    from advdyn.claims import all_claims

    if group not in GROUPS:
        raise ValueError(f"unknown claims group {group!r}; known: {', '.join(GROUPS)}")
    parts = []
    for c in all_claims():
        if _group_of(c) != group:
            continue
        parts.append(
            f"## {c.id}\n\n"
            f"**The paper ({_plain(c.section)}).** {_plain(c.quote)}\n\n"
            f"**What is measured.** {_plain(c.measurement)}\n\n"
            f"**The rule.** {_plain(c.rule)}\n\n"
            + (f"**Minimum effect.** {_plain(c.min_effect)}\n\n" if c.min_effect else "")
            + f"**Negative control.** {_plain(c.control)}\n\n"
            f"**Experiment.** {_experiment_link(c.experiment, page)}"
            + ("" if c.regime is None else "; the record also says whether the run lies in "
               "the paper's regime") + ".\n")
    return "\n".join(parts)


def _index(page: str) -> str:
    from advdyn.claims import all_claims

    rows = ["| claim | where in the paper | experiment |", "|---|---|---|"]
    rows += [f"| {_claim_link(c, page)} | {_plain(c.section)} | "
             f"{_experiment_link(c.experiment, page)} |" for c in all_claims()]
    return "\n".join(rows) + "\n"


def _value(v: Any) -> str:
    if v is dataclasses.MISSING:
        return "required"
    return f"`{list(v) if isinstance(v, tuple) else v!r}`"


def _experiment(name: str, page: str) -> str:
    from advdyn.claims import claims_of
    from advdyn.experiments.registry import get

    e = get(name)
    claims = ", ".join(_claim_link(c, page) for c in claims_of(name)) or "none (it measures)"
    rows = ["| parameter | default | `--quick` |", "|---|---|---|"]
    rows += [f"| `{p}` | {_value(d)} | {_value(e.quick[p]) if p in e.quick else ''} |"
             for p, d in e.parameters().items()]
    return (f"## {name}\n\n**{_plain(e.title)}.** {_plain(e.description)}\n\n"
            f"Module: `{e.jobs.__module__}`. Claims judged from its result: {claims}.\n\n"
            + "\n".join(rows) + "\n")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Expand the markers on the page that has them; other pages pass through."""
    where = page.file.src_uri
    markdown = CLAIMS.sub(lambda m: _claims(m.group(1), where), markdown)
    markdown = EXPERIMENT.sub(lambda m: _experiment(m.group(1), where), markdown)
    return markdown.replace(INDEX, _index(where)) if INDEX in markdown else markdown
