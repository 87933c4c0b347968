"""Evaluation harness: STS, retrieval and bitext benchmarks for any encoder with encode_queries/encode_documents."""
