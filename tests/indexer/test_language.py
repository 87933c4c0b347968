"""indexer.language: offline detection per chunk; None rather than a guess on short or ambiguous text."""

from __future__ import annotations

import pytest

from indexer.language import SHORT_TEXT_LETTERS, detect_language, language_name

# Chunk-sized samples (140+ letters, or CJK): lingua judges them by trigrams or script, in under a second.
SAMPLES = {
    "en": "Where is the railway station? The station is in the city centre, next to the old market. "
    "Trains to the coast leave every hour from platform three. Tickets are sold at the machines by the entrance.",
    "de": "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum, neben dem alten Marktplatz. "
    "Die Züge an die Küste fahren jede Stunde von Gleis drei. Fahrkarten gibt es an den Automaten am Eingang.",
    "fr": "Où est la gare ? La gare est au centre-ville, à côté du vieux marché. "
    "Les trains pour la côte partent toutes les heures du quai numéro trois. "
    "Les billets sont vendus aux automates de l'entrée.",
    "es": "¿Dónde está la estación de tren? La estación está en el centro, junto al mercado viejo. "
    "Los trenes a la costa salen cada hora del andén tres. Los billetes se venden en las máquinas de la entrada.",
    "ru": "Где вокзал? Вокзал находится в центре города, рядом со старым рынком. "
    "Поезда к морю отправляются каждый час с третьей платформы. Билеты продаются в автоматах у главного входа вокзала.",
    "ja": "駅はどこですか？駅は町の中心にあり、古い市場の隣です。海岸行きの電車は三番線から毎時間出発します。"
    "切符は駅の入り口にある自動券売機で買うことができます。改札口は地下にあります。"
    "駅の近くには大きな公園と美術館があり、週末には多くの観光客が訪れます。",
    "zh": "火车站在哪里？火车站在市中心，旁边是老市场。开往海边的火车每小时从三号站台出发。"
    "车票可以在车站入口处的自动售票机购买。检票口在地下一层，请提前二十分钟到达。"
    "车站附近有一个大公园和一座美术馆，周末有很多游客来参观。",
    "ar": "أين محطة القطار؟ المحطة في وسط المدينة بجوار السوق القديم. "
    "القطارات إلى الساحل تغادر كل ساعة من الرصيف الثالث. تباع التذاكر في الآلات عند المدخل الرئيسي للمحطة الكبيرة. "
    "الرحلة إلى البحر تستغرق ساعتين تقريبا.",
}


@pytest.mark.parametrize(("code", "text"), SAMPLES.items())
def test_detects_languages(code, text):
    assert code in ("ja", "zh") or sum(ch.isalpha() for ch in text) >= SHORT_TEXT_LETTERS
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["ok", "", "   ", "12345 67", "駅", "e.g. 3.14 -> 2.72"])
def test_too_little_text_is_none(text):
    assert detect_language(text) is None


def test_short_text_is_none_unless_asked_for():
    assert detect_language("Wo ist der Bahnhof?") is None  # Latin script: would need lingua's 1 GB models
    assert detect_language("Где вокзал?") is None
    assert detect_language("駅はどこですか") == "ja"  # kana: cheap and certain
    assert detect_language("火车站在哪里？") == "zh"
    assert detect_language("Πού είναι ο σταθμός;") == "el"


def test_long_text_uses_a_bounded_sample():
    assert detect_language(SAMPLES["de"] * 200) == "de"


SHORT = {
    "en": ["Where is the railway station?", "The cat sleeps on the sofa.", "I would like a cup of tea, please."],
    "de": ["Wo ist der Bahnhof?", "Die Katze schläft auf dem Sofa.", "Ich hätte gern eine Tasse Tee."],
    "fr": ["Où est la gare ?", "Le chat dort sur le canapé.", "Je voudrais une tasse de thé."],
    "es": ["¿Dónde está la estación?", "El gato duerme en el sofá.", "Quisiera una taza de té."],
    "pl": ["Gdzie jest dworzec?", "Kot śpi na kanapie.", "Poproszę filiżankę herbaty."],
    "ru": ["Где вокзал?", "Кошка спит на диване.", "Я хотел бы чашку чая."],
    "tr": ["İstasyon nerede?", "Kedi kanepede uyuyor.", "Bir fincan çay istiyorum."],
}


@pytest.mark.slow
def test_short_sentences_are_right_or_none():
    """Loads lingua's ~1 GB of short-text models (~16 s once per process): no wrong guesses, most right."""
    answers = [
        (code, detect_language(text, accurate_short_text=True)) for code, texts in SHORT.items() for text in texts
    ]
    assert [a for a in answers if a[1] not in (a[0], None)] == []
    assert sum(code == got for code, got in answers) >= 0.6 * len(answers)
    assert detect_language("Hello", accurate_short_text=True) is None


def test_language_names():
    assert language_name("de") == "German"
    assert language_name("zh") == "Chinese"
    assert language_name(None) == "Unknown"
    assert language_name("xx") == "xx"
