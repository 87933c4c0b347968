"""Near-duplicate removal: MinHash + LSH candidates, verified by exact Jaccard of character 5-grams."""

from __future__ import annotations

from embedder.synth.dedup import NearDuplicateIndex, shingles

TEXT = "The night train to Vienna leaves platform 4 at 22:10 and arrives at 07:45 the next morning."


def test_exact_and_near_duplicates_are_caught_distinct_texts_kept():
    index = NearDuplicateIndex(threshold=0.8)
    assert index.add(TEXT)
    assert not index.add(
        "  the NIGHT train to vienna leaves platform 4 at 22:10 and arrives at 07:45 the next morning. "
    )
    assert not index.add(TEXT.replace("07:45", "07:50"))  # one detail changed
    assert index.add("The night bus to Vienna leaves from the main square; buy tickets from the driver.")
    assert index.add("火车晚点了，请旅客耐心等待。") and not index.add("火车晚点了，请旅客耐心等待！")
    assert len(index) == 3


def test_is_duplicate_does_not_store_and_threshold_is_respected():
    index = NearDuplicateIndex(threshold=0.95)
    index.add(TEXT)
    variant = TEXT.replace("platform 4", "platform 7")
    assert not index.is_duplicate(variant) and len(index) == 1  # similar, but below 0.95
    assert shingles("abc") == {"abc"}
