"""Random request bodies through the real gateway: a client mistake is never a 5xx, always the error shape."""
from __future__ import annotations

import json
import random

from tests.e2e.concurrent import fire
from tests.stack import Stack

FIELDS = ["prompt", "model", "n", "size", "quality", "style", "response_format", "user", "max_cost_per_call"]
MODELS = ["dall-e-3", "dall-e-2", "stable-diffusion-3", "flux-pro", "flux-dev", "ideogram-2", "imagen-3", "x", ""]


def random_value(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(11)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, 1, 2, 4, 10, 11, -1, 2**31, 2**63, -(2**70)])
    if choice == 3:
        return rng.choice([0.0, 0.04, 1.5, -3.2, 1e308])
    if choice == 4:
        return rng.choice(MODELS)
    if choice == 5:
        return rng.choice(["1024x1024", "1792x1024", "256x256", "0x0", "64x4096", "99999x1", "1024×1024", "axb"])
    if choice == 6:
        return rng.choice(["standard", "hd", "vivid", "natural", "url", "b64_json", "png"])
    if choice == 7:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 32), rng.randrange(0x80, 0x3000),
                                       0x202E, 0xFEFF])) for _ in range(rng.randrange(0, 40)))
    if choice == 8 and depth < 3:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3))]
    if choice == 9 and depth < 3:
        return {rng.choice(FIELDS + ["x"]): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3))}
    return "a prompt " * rng.randrange(1, 600)


def test_random_bodies_never_cause_a_server_error(stack: Stack) -> None:
    key = stack.create_key("test")
    rng = random.Random(20261124)
    bodies = []
    for _ in range(300):
        body = {name: random_value(rng) for name in rng.sample(FIELDS, rng.randrange(0, len(FIELDS)))}
        if rng.random() < 0.1:
            body[rng.choice(["extra", "Prompt", "n "])] = 1
        bodies.append(body)
    # Keep the valid-looking generations cheap: the point is the refusals.
    replies = fire([(stack.base_url + "/v1/images/generations", body) for body in bodies], key)
    statuses = {reply.status for reply in replies}
    assert statuses <= {200, 400, 404, 413}, statuses
    for body, reply in zip(bodies, replies):
        if reply.status != 200:
            error = reply.body["error"]
            assert error["type"] in {"invalid_request", "not_found", "content_policy_violation"}, (body, error)
            assert isinstance(error["message"], str) and error["message"]
            assert "Traceback" not in json.dumps(error)
    assert 200 in statuses and 400 in statuses
