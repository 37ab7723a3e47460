"""What each public model can do today, as the catalog states it: its own parameters, plus what the
deployment serving it can (edits, masks, partial images). One source for GET /v1/models and for
`python -m server.catalog capabilities`, the table README.md shows (a test keeps the two equal)."""
from __future__ import annotations

from dataclasses import dataclass

from server.catalog.lifecycle import Lifecycles
from server.catalog.model import Catalog, Deployment, ModelSpec


@dataclass(frozen=True)
class ModelCapabilities:
    model: ModelSpec
    served_by: str  # "provider/upstream model", or "-" when nothing serves it
    edit_max_images: int
    mask: bool
    edits_without_mask: bool
    variations: bool
    streams_partial_images: bool


def capabilities(model: ModelSpec, deployment: Deployment | None) -> ModelCapabilities:
    if deployment is None:
        return ModelCapabilities(model, "-", 0, False, False, False, False)
    return ModelCapabilities(
        model=model, served_by=f"{deployment.provider}/{deployment.upstream_model}",
        edit_max_images=deployment.max_input_images, mask=deployment.takes_mask,
        edits_without_mask=deployment.edit is not None,
        # A variation is a mask-less edit of one image with the model's variation prompt.
        variations=model.variation_prompt is not None and deployment.edit is not None,
        streams_partial_images=deployment.stream)


def markdown_table(catalog: Catalog, lifecycles: Lifecycles) -> str:
    rows = ["| model | served by today | edits: images | mask | variations | partial images | backgrounds | "
            "moderation | input_fidelity | size auto |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for model in catalog.models.values():
        c = capabilities(model, lifecycles.serving(model))
        edits = "no" if c.edit_max_images == 0 else ("mask only" if not c.edits_without_mask
                                                     else f"up to {c.edit_max_images}")
        rows.append(f"| {model.id} | {c.served_by} | {edits} | {_yes(c.mask)} | {_yes(c.variations)} | "
                    f"{_yes(c.streams_partial_images)} | {', '.join(model.backgrounds)} | "
                    f"{', '.join(model.moderation) or '-'} | {', '.join(model.input_fidelity) or '-'} | "
                    f"{_yes(model.size_auto)} |")
    return "\n".join(rows)


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"
