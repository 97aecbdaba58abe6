import tracer


def test_pipeline_lands_in_store(configured, store):
    @tracer.trace_retriever
    def search(q):
        return [{"id": "a", "content": "Paris is the capital of France", "score": 0.9}]

    @tracer.trace_llm(model="gpt-4o-mini", prompt_version="qa-v3")
    def answer(question, docs):
        return "Paris."

    @tracer.trace_step
    def pipeline(q):
        return answer(q, search(q))

    assert pipeline("capital?") == "Paris."
    assert tracer.flush()
    [summary] = store.list_traces()
    assert summary["root_name"] == "pipeline"
    assert summary["span_count"] == 3
