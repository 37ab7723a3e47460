"""A catalog model as the proto `Model` that ListModels, GetModel and the admin API answer: capabilities,
lifecycle, prices in dollars and, for operators, each deployment with its breaker state."""
from __future__ import annotations

import datetime as dt

from perf.images.v1 import image_service_pb2 as pb
from server.catalog import Deployment, ModelSpec
from server.catalog.capabilities import capabilities
from server.catalog.lifecycle import Lifecycles
from server.catalog.pricing import MICROS, PerImage, PerMegapixel
from server.pipeline.routing import Router


def model_message(model: ModelSpec, lifecycles: Lifecycles, router: Router | None = None) -> pb.Model:
    can = capabilities(model, lifecycles.serving(model))
    caps = pb.ModelCapabilities(
        sizes=model.sizes, custom_sizes=model.custom_sizes is not None, max_n=model.max_n, qualities=model.qualities,
        styles=model.styles, output_formats=model.output_formats, backgrounds=model.backgrounds,
        moderation=model.moderation, input_fidelity=model.input_fidelity, size_auto=model.size_auto,
        edit_max_images=can.edit_max_images, mask=can.mask, edits_without_mask=can.edits_without_mask,
        variations=can.variations, streams_partial_images=can.streams_partial_images)
    view = lifecycles.view(model)
    served = view.served_by
    out = pb.Model(id=model.id, object="model", created=model.created,
                   owned_by=served.provider if served else "", capabilities=caps,
                   price_model=model.price.kind,
                   lifecycle=pb.Lifecycle(status=view.status, deprecated_on=_day(view.deprecated_on),
                                          shutdown_on=_day(view.shutdown_on),
                                          served_by=pb.ServedBy(provider=served.provider,
                                                                upstream_model=served.upstream_model)
                                          if served else None))
    for name in ("edit_price", "inpaint_price"):
        edit = getattr(model, name)
        if isinstance(edit, PerImage):
            getattr(out, name).CopyFrom(pb.EditPrice(pricing=_prices(edit), input_megapixel_usd=edit.input_mp / MICROS))
    if router is not None:
        out.deployments.extend(_deployment_status(d, router) for d in lifecycles.live_chain(model))
    price = model.price
    if isinstance(price, PerImage):
        out.pricing.extend(_prices(price))
    elif isinstance(price, PerMegapixel):
        out.megapixel_price.CopyFrom(pb.MegapixelPrice(first_megapixel_usd=price.first_mp / MICROS,
                                                       additional_megapixel_usd=price.extra_mp / MICROS,
                                                       input_megapixel_usd=price.input_mp / MICROS))
    else:
        out.token_price.CopyFrom(pb.TokenPrice(text_input_usd=price.text_input / MICROS,
                                               image_input_usd=price.image_input / MICROS,
                                               image_output_usd=price.image_output / MICROS,
                                               text_output_usd=price.text_output / MICROS))
    return out


def _prices(price: PerImage) -> list[pb.Price]:
    return [pb.Price(size=size, quality=quality, usd_per_image=micros / MICROS)
            for (size, quality), micros in price.prices.items()]


def _deployment_status(deployment: Deployment, router: Router) -> pb.DeploymentStatus:
    circuit, wait = router.breakers.view(deployment.id)
    return pb.DeploymentStatus(id=deployment.id, provider=deployment.provider, upstream_model=deployment.upstream_model,
                               configured=router.configured(deployment), circuit=circuit, retry_after_seconds=wait)


def _day(day: dt.date | None) -> str:
    return day.isoformat() if day else ""
