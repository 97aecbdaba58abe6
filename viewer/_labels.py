"""How stored OpenTelemetry values read on screen, the same on every screen. Pure: no Streamlit.

The store keeps what the spans carried; these say what a user means by it.
"""

from __future__ import annotations

OK, ERROR, UNKNOWN = "OK", "ERROR", "?"
NO_SERVICE = "—"
NO_SERVICE_HELP = (
    "This app set no service name, so its spans carry OpenTelemetry's placeholder "
    '({stored}). Name it with OTEL_SERVICE_NAME=my-app, or tracer.configure(service_name="my-app") '
    "when Spyglass creates the TracerProvider (the app's own provider keeps its resource)."
)
# The OTel SDK's service.name when none is set: "unknown_service", then ":" and the
# executable's name (https://opentelemetry.io/docs/specs/semconv/resource/#service).
_PLACEHOLDER = "unknown_service"


def status(code: str | None) -> str:
    """``OK`` for a span that ended without error: instrumentations leave the status UNSET
    on success, as the OTel spec asks (https://opentelemetry.io/docs/specs/otel/trace/api/#set-status),
    and the Status filter's ``OK`` matches those spans' traces too. ``ERROR`` stays ``ERROR``."""
    if code in ("OK", "UNSET"):
        return OK
    return ERROR if code == "ERROR" else UNKNOWN


def service(name: str | None) -> tuple[str, str | None]:
    """The service as shown, and a tooltip when the app named none (then the name is ``—``:
    the placeholder names no app, and nothing else in the span does)."""
    if name and name != _PLACEHOLDER and not name.startswith(_PLACEHOLDER + ":"):
        return name, None
    return NO_SERVICE, NO_SERVICE_HELP.format(stored=name or "none")
