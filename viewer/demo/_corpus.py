"""The demo's knowledge base: short support articles for a fictional desk lamp."""

from __future__ import annotations

DOCUMENTS: list[dict[str, object]] = [
    {
        "id": "kb-warranty",
        "title": "Warranty",
        "content": "The Lighthouse L2 comes with a two-year limited warranty covering manufacturing defects. "
        "The warranty does not cover water damage or damage from third-party chargers.",
        "metadata": {"section": "support", "updated": "2026-03-02"},
    },
    {
        "id": "kb-battery",
        "title": "Battery",
        "content": "The Lighthouse L2 uses a 4,000 mAh lithium-ion battery. A full charge lasts about "
        "12 hours at medium brightness and takes 3 hours over USB-C.",
        "metadata": {"section": "specs", "updated": "2025-11-20"},
    },
    {
        "id": "kb-outdoor",
        "title": "Outdoor use",
        "content": "The Lighthouse L2 is rated IP44: it resists splashes and light rain, so it can be used on a "
        "covered terrace. It must not be submerged.",
        "metadata": {"section": "specs", "updated": "2025-09-14"},
    },
    {
        "id": "kb-returns",
        "title": "Returns",
        "content": "You can return a Lighthouse lamp within 30 days of delivery for a full refund. "
        "Return shipping is free in the EU; elsewhere it costs 9 euros.",
        "metadata": {"section": "policy", "updated": "2026-01-10"},
    },
    {
        "id": "kb-reset",
        "title": "Account and password",
        "content": "To reset your password, open the Lighthouse app, tap Account, then Forgot password. "
        "A reset link is sent to the email address on file and expires after 1 hour.",
        "metadata": {"section": "account", "updated": "2026-02-17"},
    },
    {
        "id": "kb-l3",
        "title": "Lighthouse L3 Pro",
        "content": "The Lighthouse L3 Pro adds a colour-temperature dial (2,700 K to 6,500 K) and a wireless "
        "charging base. It shares the L2's battery.",
        "metadata": {"section": "products", "updated": "2026-04-01"},
    },
    {
        "id": "kb-orders",
        "title": "Order status",
        "content": "Order status is available in the app under Orders, or from support with the order number. "
        "Orders ship within 2 business days.",
        "metadata": {"section": "orders", "updated": "2025-12-05"},
    },
    {
        "id": "kb-brightness",
        "title": "Brightness",
        "content": "The L2 has five brightness levels, from 50 to 800 lumens. Press and hold the top button "
        "to change the level.",
        "metadata": {"section": "specs", "updated": "2025-08-30"},
    },
]
