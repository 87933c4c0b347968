"""Loaders read the shared data files with the row counts their SOURCE_LICENSE notes give."""

from embedder.evaluate.datasets import STSB_LANGS, bitext_sets, load_beir, missing_sets, retrieval_sets, sts_sets

STS_ROWS = {
    "sick-r": 4906,
    "sts12": 3108,
    "sts13": 1500,
    "sts14": 3750,
    "sts15": 3000,
    "sts16": 1186,
    "sts17-en-en": 250,
    "sts17-es-en-4a": 250,
    "biosses": 100,
    "stsb-ko (KorSTS)": 1379,
} | {f"stsb-{lang}": 1379 for lang in STSB_LANGS}


def test_sts_row_counts(data_root):
    sets = {s.name: s for s in sts_sets(data_root)}
    assert {name: len(sets[name].rows) for name in STS_ROWS} == STS_ROWS
    assert len(sets) == 25
    assert sets["biosses"].task == "biomedical_sts"


def test_sts_limit(data_root):
    assert all(len(s.rows) == 7 for s in sts_sets(data_root, limit=7))


def test_scifact_and_xquad_cross_lingual(data_root):
    scifact = load_beir(data_root / "retrieval" / "beir_scifact", "scifact", "scientific_claims")
    assert (len(scifact.queries), len(scifact.corpus)) == (300, 5183)
    assert sum(len(r) for r in scifact.qrels.values()) == 339
    xquad = data_root / "retrieval" / "xquad"
    de_en = load_beir(xquad / "de", "xquad-de>en", "multilingual_qa", corpus_folder=xquad / "en")
    assert (len(de_en.queries), len(de_en.corpus)) == (1190, 240)
    assert de_en.corpus["xquad-00-00"].startswith("The Panthers")


def test_retrieval_limit_keeps_relevant_documents(data_root):
    for data in retrieval_sets(data_root, limit=5):
        assert len(data.queries) == 5, data.name
        assert {d for rel in data.qrels.values() for d in rel} <= data.corpus.keys()
        assert len(data.corpus) <= 5 + sum(len(r) for r in data.qrels.values())


def test_tatoeba(data_root):
    sets = list(bitext_sets(data_root, limit=3))
    assert len(sets) == 112
    assert all(len(s.source) == len(s.target) == 3 for s in sets)
    deu = next(s for s in sets if s.name == "tatoeba-deu")
    assert deu.task == "bitext"


def test_missing_lists_only_known_gaps(data_root):
    assert set(missing_sets(data_root)) == {"sts17-tr-en", "mlqa-test", "lareqa-mlqa-r"}
