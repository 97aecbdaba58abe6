"""OpenTelemetry contrib's GenAI instrumentations (``opentelemetry-instrumentation-openai-v2``...).

Their spans speak the GenAI conventions, so most need nothing. Where the content goes
depends on the release and on ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``:

* ``span_only`` / ``span_and_event`` (the latest-experimental path; with
  ``opentelemetry-util-genai`` 1.x the only one): ``gen_ai.input.messages`` and
  ``gen_ai.output.messages`` on the span, already canonical.
* ``event_only``, and the legacy path of releases before util-genai 1.0 (without
  ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``): content goes to OTel *log
  records* (``gen_ai.user.message``, ``gen_ai.choice``,
  ``gen_ai.client.inference.operation.details``), never to the span. The span still has the
  model, usage and finish reasons; the prompt and answer are not in the store.

What older semantic conventions left on the span is mapped here: ``gen_ai.system`` (the
provider before ``gen_ai.provider.name``) and ``gen_ai.usage.prompt_tokens`` /
``completion_tokens``. No release of openai-v2 puts content in span events (2.0b0 already
sent it to the logs), so none are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import attributes as A
from . import _common as c


class OTelContrib:
    name = "otel-contrib"

    def detect(self, attributes: Mapping[str, Any], events: c.Events) -> bool:
        return (
            A.GEN_AI_SYSTEM in attributes and A.GEN_AI_PROVIDER_NAME not in attributes
        ) or A.GEN_AI_USAGE_PROMPT_TOKENS in attributes

    def kind(self, attributes: Mapping[str, Any]) -> str | None:
        return None  # gen_ai.operation.name says it

    def normalize(self, attributes: Mapping[str, Any], events: c.Events) -> dict[str, Any]:
        return {
            A.GEN_AI_PROVIDER_NAME: c.text(attributes.get(A.GEN_AI_SYSTEM)),
            A.GEN_AI_USAGE_INPUT_TOKENS: c.as_int(attributes.get(A.GEN_AI_USAGE_PROMPT_TOKENS)),
            A.GEN_AI_USAGE_OUTPUT_TOKENS: c.as_int(attributes.get(A.GEN_AI_USAGE_COMPLETION_TOKENS)),
        }
