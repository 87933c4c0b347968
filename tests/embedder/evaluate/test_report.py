"""The side-by-side markdown table compares models on the datasets they share."""

from embedder.evaluate.report import markdown_table


def _result(dataset, main, suite="sts", summary=False, **metrics):
    return {"suite": suite, "dataset": dataset, "main": main, "summary": summary, "metrics": metrics}


def test_mean_only_over_shared_sets():
    a = {"model": "a", "results": [_result("x", 10.0), _result("y", 20.0), _result("sts mean", 15.0, summary=True)]}
    b = {"model": "b", "results": [_result("x", 30.0)]}
    table = markdown_table([a, b])
    assert "| sts | x | 10.00 | 30.00 |" in table
    assert "| sts | y | 20.00 |  |" in table
    assert "| sts | **mean of 1 sets** | **10.00** | **30.00** |" in table


def test_metric_and_dataset_filters():
    a = {
        "model": "a",
        "results": [
            _result("xquad-de>en", 80.0, suite="retrieval", **{"recall@1": 70.0}),
            _result("xquad-en", 90.0, suite="retrieval", **{"recall@1": 85.0}),
            _result("stsb-en", 82.0),
        ],
    }
    table = markdown_table([a], datasets=["xquad-*>en"], metric="recall@1")
    assert "| retrieval | xquad-de>en | 70.00 |" in table
    assert "xquad-en" not in table and "stsb-en" not in table
    assert "| retrieval | **mean of 1 sets** | **70.00** |" in table
