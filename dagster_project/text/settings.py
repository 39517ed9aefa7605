"""The text stage's settings: defaults here, a data root's own values in
`<data root>/reference/text_analysis.yml`, validated when loaded, e.g.

    classifier:
      min_confidence: 0.7
    hot_issues:
      min_similarity: 0.45
      link_days: 5

An unknown key, a value of the wrong type or out of range is an error naming the file and key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TEXT_SETTINGS_FILE = "text_analysis.yml"

_Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class TextSettingsError(ValueError):
    """text_analysis.yml cannot be used; the message names the file and the key."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClassifierSettings(_Settings):
    """How the taxonomy classifier learns and when its predictions are used."""

    # A prediction places a ticket only at this probability or above; below it the ticket
    # stays 未分类 (placement `none`), with the prediction kept for analysts to look at.
    min_confidence: _Fraction = 0.6
    # A class is learned only with at least this many labelled tickets; fewer than two such
    # classes and no model is trained.
    min_class_tickets: int = Field(default=20, ge=2)
    # The second level (the cities' own level-2 labels) is predicted for labels with at least
    # this many tickets, and used when its probability reaches min_confidence too.
    min_level_2_tickets: int = Field(default=200, ge=2)
    # The level-2 model learns from at most this many tickets of each label (a seeded sample
    # of the training sample): there are many labels, and each costs a pass of the model.
    max_tickets_per_level_2: int = Field(default=400, ge=2)
    # Training reads at most this many labelled tickets per class (a deterministic sample):
    # beyond some thousands a class gains little, and a national root has millions.
    max_tickets_per_class: int = Field(default=3000, ge=10)
    # The cross-validation (every training, and `hotline classify --evaluate`) runs on a
    # smaller sample of at most this many per class: five more fits of the model, and of the
    # reference in an evaluation.
    cv_tickets_per_class: int = Field(default=600, ge=10)
    # Character n-grams (no word segmenter): lengths from..to.
    ngram_min: int = Field(default=1, ge=1, le=5)
    ngram_max: int = Field(default=3, ge=1, le=6)
    # Hashed feature space of each text field (title, content): 2 ** hash_bits features.
    hash_bits: int = Field(default=20, ge=12, le=24)
    # L2 regularisation of the linear model (scikit-learn's SGDClassifier alpha).
    alpha: float = Field(default=5e-5, gt=0, le=1)
    # Folds of the cross-validation whose macro-F1 the report prints.
    cv_folds: int = Field(default=5, ge=2, le=10)
    seed: int = 2019
    # Tickets predicted per batch: bounds the memory of the feature matrix.
    batch_tickets: int = Field(default=100_000, ge=1000)


class HeatSettings(_Settings):
    """热度 = tickets × (1 + growth_weight × growth) × 0.5 ** (age_days / half_life_days):
    growth in [-1, 1] compares the latter half of an issue's days with the former; age is the
    days from its last ticket to the end of the month it is listed in."""

    growth_weight: _Fraction = 0.5
    half_life_days: float = Field(default=30.0, gt=0)


class HotIssueSettings(_Settings):
    """How tickets are grouped into hot issues (热点议题)."""

    # Request types whose tickets may form an issue: questions (consult) and thanks are about
    # a policy or a person, not a problem at a place.
    request_types: tuple[str, ...] = ("help", "complaint", "report", "other", "suggestion")
    # Two tickets of a city and district are linked when their contents' cosine similarity
    # (character 2–3-grams, weighted by rarity in the city) reaches this value and they were
    # received at most link_days apart; an issue is a connected group of links.
    # Low, because two people describe one problem in different words and what they share
    # is little besides the place; the district, the window and the rare n-grams keep
    # unrelated tickets apart (docs/text-analysis.md, measured on the demo's planted issues).
    min_similarity: _Fraction = 0.12
    link_days: int = Field(default=4, ge=0, le=60)
    # The bar rises to the background_quantile of the similarity of the city's unrelated
    # tickets (random pairs of a district received background_days apart or more) where
    # that is higher: a city whose tickets are short and formulaic shares words by chance.
    background_quantile: _Fraction = 0.98
    background_days: int = Field(default=30, ge=1)
    # n-grams found in more than this share of a city's tickets (and in more than
    # common_ngram_min_tickets, so that a small city's issues keep their own words) are
    # template, not place or problem: they are left out of the similarity.
    max_ngram_share: _Fraction = 0.005
    common_ngram_min_tickets: int = Field(default=50, ge=2)
    # A ticket alike with at least this many others is a core of an issue; issues grow from
    # links between cores, so one chance likeness does not chain unrelated tickets.
    min_links: int = Field(default=2, ge=1)
    # An issue has at least this many tickets.
    min_tickets: int = Field(default=8, ge=2)
    # Issues listed per city and month (by 热度).
    top_per_city_month: int = Field(default=5, ge=1)
    heat: HeatSettings = HeatSettings()
    # Issues of several cities are one theme when their representative texts' similarity
    # (common n-grams, no rarity weight) reaches this value.
    theme_similarity: _Fraction = 0.4


class TextSettings(_Settings):
    classifier: ClassifierSettings = ClassifierSettings()
    hot_issues: HotIssueSettings = HotIssueSettings()

    def fingerprint(self) -> str:
        """A short digest of every value: part of a model's version."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_text_settings(reference_dir: Path) -> TextSettings:
    """The data root's text_analysis.yml (in its reference folder), or the defaults."""
    path = reference_dir / TEXT_SETTINGS_FILE
    if not path.is_file():
        return TextSettings()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TextSettingsError(f"{path}: cannot be read as YAML: {exc}") from exc
    if raw is None:
        return TextSettings()
    if not isinstance(raw, dict):
        raise TextSettingsError(f"{path}: expected the keys classifier and hot_issues")
    try:
        settings = TextSettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
        raise TextSettingsError(f"{path}: {problems}") from exc
    classifier = settings.classifier
    if classifier.ngram_min > classifier.ngram_max:
        raise TextSettingsError(f"{path}: classifier.ngram_min ({classifier.ngram_min}) is "
                                f"above classifier.ngram_max ({classifier.ngram_max})")
    return settings
