"""Auto-instrumentation for LLM client libraries: one module per client (``integrations.openai``)."""
