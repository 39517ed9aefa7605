"""A classifier of the national taxonomy learned from a data root's own labelled tickets.

The tickets whose city label a mapping places in a national class are the examples; the model
predicts the top-level class (and, where the labels are frequent enough, the city's level-2
label) of the tickets no mapping places. Features are character n-grams of the normalised
title and content, each field hashed into its own space (no vocabulary to store, no word
segmenter), weighted by TF-IDF; the model is a linear classifier trained by stochastic
gradient descent with a logistic loss, so each prediction has a probability. Everything is
seeded: the same labelled tickets and settings give the same model.

`cross_validate` measures it (stratified k-fold macro-F1 and per-class precision and recall)
beside a reference measured on the same folds: character 1–3-gram TF-IDF and a linear SVM
over the raw text, the usual baseline for short Chinese texts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn
from scipy import sparse
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import LinearSVC

from dagster_project.text.settings import ClassifierSettings
from dagster_project.text.texts import normalised

# Bumped when the features or the model change in a way the settings do not show: part of
# every model's version, so a root's model is retrained.
MODEL_CODE_VERSION = "1"
# A level-2 label is the top-level class and the city's level-2 text.
LEVEL_2_SEPARATOR = "/"


NO_LABELLED_TICKETS = ("no labelled tickets: no ticket's category is placed by a mapping, so "
                       "there is nothing to learn from (map the cities' labels in "
                       "reference/category_mappings.csv)")


class NoModel(Exception):
    """No model can be trained from a root's labelled tickets; the message says why."""


@dataclass(frozen=True)
class LabelledTickets:
    """Tickets with a known class: the examples, as columns."""

    title: pa.Array
    content: pa.Array
    category_code: np.ndarray  # the national class of each ticket (its mapping's)
    level_2: np.ndarray  # the class and the city's level-2 label ("01/市政设施"), or ""

    def __len__(self) -> int:
        return len(self.category_code)

    def take(self, rows: np.ndarray) -> LabelledTickets:
        index = pa.array(rows)
        return LabelledTickets(self.title.take(index), self.content.take(index),
                               self.category_code[rows], self.level_2[rows])


def text_frame(title: pa.Array, content: pa.Array) -> pd.DataFrame:
    """The model's input: the normalised title and content (`texts.normalised`)."""
    return pd.DataFrame({"title": normalised(title).to_numpy(zero_copy_only=False),
                         "content": normalised(content).to_numpy(zero_copy_only=False)})


def _hashed(settings: ClassifierSettings) -> HashingVectorizer:
    return HashingVectorizer(analyzer="char", ngram_range=(settings.ngram_min, settings.ngram_max),
                             n_features=2 ** settings.hash_bits, alternate_sign=False,
                             norm=None, lowercase=False, dtype=np.float32)


def _features(settings: ClassifierSettings) -> ColumnTransformer:
    """Hashed n-gram counts of the title and of the content, side by side: a phrase in a
    title weighs as a title's phrase. Stateless: nothing is learned."""
    return ColumnTransformer([("title", _hashed(settings), "title"),
                              ("content", _hashed(settings), "content")])


def _learner(settings: ClassifierSettings) -> Pipeline:
    """TF-IDF of each field on its own, each L2-normalised (a long content, or a second
    problem raised in passing, does not drown the title), then the linear model."""
    width = 2 ** settings.hash_bits
    weighting = ColumnTransformer(
        [("title", TfidfTransformer(sublinear_tf=True), slice(0, width)),
         ("content", TfidfTransformer(sublinear_tf=True), slice(width, 2 * width))],
        sparse_threshold=1.0)
    return make_pipeline(
        weighting,
        SGDClassifier(loss="log_loss", alpha=settings.alpha, max_iter=30, tol=1e-4,
                      random_state=settings.seed))


def reference_model(seed: int) -> Pipeline:
    """The reference: character 1–3-gram TF-IDF over the raw title and content, linear SVM."""
    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)),
                         LinearSVC(random_state=seed))


def raw_text(tickets: LabelledTickets) -> list[str]:
    """The title and the content as they are, one string: the reference model's input."""
    title = tickets.title.fill_null("").to_pylist()
    content = tickets.content.fill_null("").to_pylist()
    return [f"{t} {c}" for t, c in zip(title, content, strict=True)]


def learnable_classes(category_code: np.ndarray, settings: ClassifierSettings) -> list[str]:
    """The classes with enough labelled tickets to learn, in code order."""
    codes, counts = np.unique(category_code, return_counts=True)
    return sorted(str(c) for c, n in zip(codes, counts, strict=True)
                  if n >= settings.min_class_tickets)


def _check_trainable(tickets: LabelledTickets, settings: ClassifierSettings) -> list[str]:
    if len(tickets) == 0:
        raise NoModel(NO_LABELLED_TICKETS)
    classes = learnable_classes(tickets.category_code, settings)
    if len(classes) < 2:
        raise NoModel(f"{len(tickets)} labelled tickets, but {len(classes)} class(es) with at "
                      f"least {settings.min_class_tickets} (classifier.min_class_tickets): a "
                      "model needs two classes or more")
    return classes


@dataclass(frozen=True)
class Predictions:
    category_code: np.ndarray
    confidence: np.ndarray
    level_2: np.ndarray  # "" where no level-2 model or label
    level_2_confidence: np.ndarray  # NaN where none


@dataclass
class TaxonomyModel:
    """A trained classifier: the features, the top-level model and the level-2 model."""

    version: str
    features: ColumnTransformer
    top: Pipeline
    level_2: Pipeline | None
    labelled_tickets: int
    training_tickets: int
    classes: list[str] = field(default_factory=list)

    def predict(self, title: pa.Array, content: pa.Array) -> Predictions:
        """Predict a batch: one matrix product per model, no loop over tickets."""
        x = self.features.transform(text_frame(title, content))
        probabilities = self.top.predict_proba(x)
        best = probabilities.argmax(axis=1)
        code = self.top.classes_[best].astype(str)
        confidence = probabilities[np.arange(len(best)), best]
        n = len(code)
        level_2 = np.full(n, "", dtype=object)
        level_2_confidence = np.full(n, np.nan)
        if self.level_2 is not None and n:
            p2 = self.level_2.predict_proba(x)
            best2 = p2.argmax(axis=1)
            label2 = self.level_2.classes_[best2].astype(str)
            # A level-2 label of another class than the top prediction's is not used.
            agrees = np.char.startswith(label2.astype(str), np.char.add(code, LEVEL_2_SEPARATOR))
            level_2 = np.where(agrees, label2, "").astype(object)
            level_2_confidence = np.where(agrees, p2[np.arange(n), best2], np.nan)
        return Predictions(code, confidence, level_2, level_2_confidence)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        joblib.dump(self, partial, compress=3)
        partial.replace(path)


def load_model(path: Path) -> TaxonomyModel:
    """A model this project saved in the data root's models/ folder (never a file from
    elsewhere: loading runs what the file says)."""
    model = joblib.load(path)
    if not isinstance(model, TaxonomyModel):
        raise TypeError(f"{path}: not a taxonomy model")
    return model


def model_version(labelled_fingerprint: str, settings_fingerprint: str) -> str:
    """Changes with the labelled set, the settings, scikit-learn and the model's code."""
    text = "|".join([labelled_fingerprint, settings_fingerprint, sklearn.__version__,
                     MODEL_CODE_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _level_2_labels(tickets: LabelledTickets, settings: ClassifierSettings) -> np.ndarray:
    """Each ticket's level-2 label where that label has enough tickets, else ''."""
    labels, counts = np.unique(tickets.level_2, return_counts=True)
    frequent = {str(label) for label, n in zip(labels, counts, strict=True)
                if label and n >= settings.min_level_2_tickets}
    return np.where(np.isin(tickets.level_2, list(frequent)), tickets.level_2, "").astype(object)


def _sample_per_label(labels: np.ndarray, most: int, seed: int) -> np.ndarray:
    """The rows of the labelled ("" is none) tickets, at most `most` of each label, drawn at
    random with the seed; in row order."""
    rows = np.flatnonzero(labels != "")
    shuffled = np.random.default_rng(seed).permutation(rows)
    taken = pd.Series(labels[shuffled]).groupby(labels[shuffled]).cumcount().to_numpy() < most
    return np.sort(shuffled[taken])


def train(tickets: LabelledTickets, settings: ClassifierSettings, version: str,
          labelled_tickets: int | None = None) -> TaxonomyModel:
    """Fit the model on the labelled tickets of the learnable classes."""
    classes = _check_trainable(tickets, settings)
    tickets = tickets.take(np.flatnonzero(np.isin(tickets.category_code, classes)))
    features = _features(settings)
    x = features.fit_transform(text_frame(tickets.title, tickets.content))
    top = _learner(settings).fit(x, tickets.category_code)
    level_2_labels = _level_2_labels(tickets, settings)
    with_level_2 = _sample_per_label(level_2_labels, settings.max_tickets_per_level_2,
                                     settings.seed)
    level_2 = None
    if len(np.unique(level_2_labels[with_level_2])) >= 2:
        level_2 = _learner(settings).fit(x[with_level_2],
                                         level_2_labels[with_level_2].astype(str))
    return TaxonomyModel(version, features, top, level_2,
                         labelled_tickets if labelled_tickets is not None else len(tickets),
                         len(tickets), classes)


@dataclass(frozen=True)
class ClassScores:
    category_code: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Out-of-fold scores of the model (and of the reference, when measured)."""

    folds: int
    tickets: int
    macro_f1: float
    per_class: list[ClassScores]
    reference_macro_f1: float | None = None
    reference_per_class: list[ClassScores] | None = None


def _scores(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> list[ClassScores]:
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0)
    return [ClassScores(c, float(p), float(r), float(f), int(s))
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)]


def cross_validate(tickets: LabelledTickets, settings: ClassifierSettings, *,
                   with_reference: bool = False,
                   on_fold: Callable[[int], None] | None = None) -> Evaluation:
    """Stratified k-fold out-of-fold predictions of the model (and the reference on the same
    folds): macro-F1 over the learnable classes and each class's precision and recall."""
    classes = _check_trainable(tickets, settings)
    tickets = tickets.take(np.flatnonzero(np.isin(tickets.category_code, classes)))
    _, counts = np.unique(tickets.category_code, return_counts=True)
    if counts.min() < settings.cv_folds:
        raise NoModel(f"a class has {counts.min()} labelled tickets, fewer than the "
                      f"{settings.cv_folds} folds of the cross-validation")
    truth = tickets.category_code.astype(str)
    folds = StratifiedKFold(n_splits=settings.cv_folds, shuffle=True,
                            random_state=settings.seed)
    # Hashing learns nothing, so the counts are computed once for all folds; TF-IDF and the
    # model are fitted on each training fold alone.
    x = sparse.csr_matrix(_features(settings).fit_transform(
        text_frame(tickets.title, tickets.content)))
    raw = np.asarray(raw_text(tickets), dtype=object) if with_reference else None
    predicted = np.empty(len(truth), dtype=object)
    reference = np.empty(len(truth), dtype=object)
    for k, (train_rows, test_rows) in enumerate(folds.split(np.zeros(len(truth)), truth)):
        model = clone(_learner(settings)).fit(x[train_rows], truth[train_rows])
        predicted[test_rows] = model.predict(x[test_rows])
        if raw is not None:
            ref = reference_model(settings.seed).fit(raw[train_rows], truth[train_rows])
            reference[test_rows] = ref.predict(raw[test_rows])
        if on_fold is not None:
            on_fold(k + 1)
    predicted = predicted.astype(str)
    evaluation = Evaluation(
        folds=settings.cv_folds, tickets=len(truth),
        macro_f1=float(f1_score(truth, predicted, labels=classes, average="macro")),
        per_class=_scores(truth, predicted, classes))
    if raw is not None:
        reference = reference.astype(str)
        evaluation = Evaluation(
            **{**evaluation.__dict__,
               "reference_macro_f1": float(f1_score(truth, reference, labels=classes,
                                                    average="macro")),
               "reference_per_class": _scores(truth, reference, classes)})
    return evaluation
