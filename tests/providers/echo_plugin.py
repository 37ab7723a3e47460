"""An out-of-tree provider, registered through the same seam as the built-ins (PERF_PROVIDER_MODULES)."""
from __future__ import annotations

from server.providers.base import GenerationJob, GenerationResult
from server.providers.plugin import BuildKit, ProviderPlugin, Setting
from server.providers.sandbox import SandboxProvider


class EchoProvider:
    """Draws the sandbox picture, but as a live provider would be built: from its own settings."""

    name = "echo"

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting
        self._sandbox = SandboxProvider()

    async def generate(self, job: GenerationJob) -> GenerationResult:
        return await self._sandbox.generate(job)


def build(kit: BuildKit) -> EchoProvider:
    return EchoProvider(kit.values["ECHO_GREETING"])


PROVIDER = ProviderPlugin(id="echo", name="Echo", build=build,
                          settings=(Setting("ECHO_API_KEY", secret=True), Setting("ECHO_GREETING", "hello")))
