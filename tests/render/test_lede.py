"""The lede: a long paragraph cut at a sentence or a word, with an ellipsis."""

from __future__ import annotations

from digest.render.lede import cut, lede


def test_short_paragraph_is_kept_whole():
    assert cut("Une phrase courte.") == "Une phrase courte."


def test_long_paragraph_is_cut_at_a_sentence_end():
    text = "Première phrase assez longue pour compter dans le calcul. " * 4 + "x " * 200
    out = cut(text)
    assert out.endswith("calcul. …") and len(out) <= 302


def test_long_paragraph_without_sentence_end_is_cut_at_a_word():
    out = cut("mot " * 200)
    assert out.endswith("mot…") and len(out) <= 301 and "  " not in out


def test_lede_takes_the_first_paragraphs_and_zero_takes_none():
    assert lede(["a", " ", "b", "c"], 2) == ["a", "b"]
    assert lede(["a"], 0) == []
