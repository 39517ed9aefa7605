"""Hot issues (热点议题): tickets about the same problem at the same place within a few days.

Within a city, two tickets are linked when they come from the same district (or both have
none), were received at
most `link_days` apart and their contents are alike: the cosine similarity of their character
2–3-grams, weighted by TF-IDF over the city's tickets, reaches `min_similarity`. N-grams in
more than `max_ngram_share` of the city's tickets (the templates of openings and asks, the
wording every complaint of a kind shares; at least `common_ngram_min_tickets` tickets) are
left out, so what links two tickets is what they share beyond the usual: the place and the
problem. An issue is a connected group of links with at least `min_tickets` tickets. Only
request types that report a problem take part (`request_types`), and tickets of no known type:
a hundred people asking how to pay social insurance is a question, not an issue at a place.

Each issue gets its size, first and last day, growth (the latter half of its days against the
former), a representative text (the ticket nearest the issue's centre, its opening clause
left out), its categories and a 热度 index (settings.HeatSettings). Issues of several cities
whose representative texts share their wording form a theme: what recurs nationally.

Links are found block by block (a district's tickets of `link_days` days against those of the
next block) with sparse matrix products; nothing loops over tickets.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from dagster_project.text.settings import HotIssueSettings
from dagster_project.text.texts import normalised

# The columns `find_hot_issues` reads.
TICKET_COLUMNS = ("city_code", "ticket_id", "received_at", "district", "request_type",
                  "category_name", "title", "content")
# An opening clause ("市民来电反映：", "网友留言：", a caller's name before 来电反映): left out of
# the representative text, which names the problem, not who reported it.
_OPENING = r"^[^，。！？；：:,.]{0,14}[：:]\s*"
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class HotIssues:
    issues: pd.DataFrame  # one row per issue
    tickets: pd.DataFrame  # issue_id, city_code, ticket_id


ISSUE_COLUMNS = ("issue_id", "city_code", "district", "listed_month", "first_day", "last_day",
                 "tickets", "active_days", "growth", "heat", "rank_in_city_month", "is_listed",
                 "representative_title", "representative_text", "category_name",
                 "category_share", "theme_id", "theme_label")


def _empty() -> HotIssues:
    issues = pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
    tickets = pd.DataFrame({c: pd.Series(dtype=object)
                            for c in ("issue_id", "city_code", "ticket_id")})
    return HotIssues(issues, tickets)


def _background_similarity(x: sparse.csr_matrix, district: np.ndarray, seconds: np.ndarray,
                           settings: HotIssueSettings) -> float:
    """How alike unrelated tickets of the city are: the `background_quantile` of the
    similarity of random pairs of one district received `background_days` apart or more
    (too far apart to be one issue); 0 when there are too few such pairs to tell."""
    n = x.shape[0]
    rng = np.random.default_rng(0)
    a = rng.integers(0, n, 20 * n)
    b = rng.integers(0, n, 20 * n)
    apart = ((district[a] == district[b])
             & (np.abs(seconds[a] - seconds[b]) >= settings.background_days * _SECONDS_PER_DAY))
    a, b = a[apart][:200_000], b[apart][:200_000]
    if len(a) < 1000:
        return 0.0
    similarity = np.asarray(x[a].multiply(x[b]).sum(axis=1)).ravel()
    return float(np.quantile(similarity, settings.background_quantile))


def _links(x: sparse.csr_matrix, district: np.ndarray, seconds: np.ndarray,
           settings: HotIssueSettings, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) of tickets of one district received at most link_days apart whose rows of
    x (L2-normalised) have a dot product of `threshold` or more."""
    window = max(settings.link_days, 1) * _SECONDS_PER_DAY
    linked_i: list[np.ndarray] = []
    linked_j: list[np.ndarray] = []
    order = np.lexsort((seconds, district))
    starts = np.flatnonzero(np.r_[True, district[order][1:] != district[order][:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        rows = order[start:end]  # one district, by time
        block = (seconds[rows] - seconds[rows[0]]) // window
        edges = np.flatnonzero(np.r_[True, block[1:] != block[:-1], True])
        for k in range(len(edges) - 1):
            here = rows[edges[k]:edges[k + 1]]
            # This block against itself and the next one: pairs further apart than one
            # block are further apart than link_days.
            upto = edges[k + 2] if k + 2 < len(edges) else edges[k + 1]
            there = rows[edges[k]:upto]
            product = (x[here] @ x[there].T).tocoo()
            keep = product.data >= threshold
            i, j = here[product.row[keep]], there[product.col[keep]]
            close = np.abs(seconds[i] - seconds[j]) <= settings.link_days * _SECONDS_PER_DAY
            # A pair within the block comes twice and a ticket with itself: harmless to the
            # connected groups, which are all that is made of the links.
            linked_i.append(i[close])
            linked_j.append(j[close])
    if not linked_i:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(linked_i), np.concatenate(linked_j)


def _city_groups(texts: np.ndarray, district: np.ndarray, seconds: np.ndarray,
                 settings: HotIssueSettings) -> tuple[np.ndarray, sparse.csr_matrix | None]:
    """Each ticket's group number (-1: in no issue) and the tickets' feature rows."""
    n = len(texts)
    groups = np.full(n, -1)
    if n < settings.min_tickets:
        return groups, None
    # An n-gram in two tickets at least, and not in the most (settings).
    most = max(settings.common_ngram_min_tickets, int(settings.max_ngram_share * n))
    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), lowercase=False,
                                 sublinear_tf=True, min_df=2, max_df=most, dtype=np.float32)
    try:
        x = vectoriser.fit_transform(texts)
    except ValueError:  # no n-gram left: nothing alike
        return groups, None
    x = sparse.csr_matrix(x)
    # Alike means more alike than the city's unrelated tickets usually are: where its texts
    # are short and formulaic, two tickets share words by chance, and the bar rises.
    threshold = max(settings.min_similarity,
                    _background_similarity(x, district, seconds, settings))
    i, j = _links(x, district, seconds, settings, threshold)
    distinct = i != j
    i, j = i[distinct], j[distinct]
    if len(i) == 0:
        return groups, x
    # Core tickets are alike with min_links others or more; issues grow from links between
    # cores (as DBSCAN does), so a chance likeness between two unrelated tickets cannot chain
    # them into one issue. A ticket alike with a core but with too few others joins that
    # core's issue.
    adjacency = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.int8)
    core = np.asarray(adjacency.sum(axis=1)).ravel() >= settings.min_links
    core_links = adjacency[core][:, core].tocoo()
    cores = np.flatnonzero(core)
    graph = sparse.coo_matrix((np.ones(core_links.nnz), (cores[core_links.row],
                                                          cores[core_links.col])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    component = np.where(core, component, -1)
    border = adjacency[~core][:, core].tocsr()
    has_core = np.diff(border.indptr) > 0
    borders = np.flatnonzero(~core)[has_core]
    component[borders] = component[cores[border.indices[border.indptr[:-1][has_core]]]]
    in_issue = component >= 0
    sizes = np.bincount(component[in_issue], minlength=n)
    big = in_issue & (sizes[np.maximum(component, 0)] >= settings.min_tickets)
    # Number the issues by their first ticket, so the numbering follows time.
    by_time = np.argsort(seconds, kind="stable")
    in_order = component[by_time][big[by_time]]
    _, first_seen = np.unique(in_order, return_index=True)
    number = np.full(component.max() + 1, -1)
    number[np.unique(in_order)[np.argsort(first_seen)]] = np.arange(len(first_seen))
    groups[big] = number[component[big]]
    return groups, x


def _most_common(values: pd.Series) -> object:
    """The most common known value, or None when none is known."""
    known = values.dropna()
    return known.mode().iloc[0] if len(known) else None


def _issue_id(city_code: str, first_ticket: str) -> str:
    return hashlib.sha256(f"{city_code}|{first_ticket}".encode()).hexdigest()[:12]


def _growth(seconds: np.ndarray) -> float:
    """(tickets of the latter half of the issue's span − those of the former) / tickets."""
    first, last = seconds.min(), seconds.max()
    if last == first:
        return 0.0
    middle = first + (last - first) / 2
    latter = int((seconds > middle).sum())
    former = int((seconds < middle).sum())
    return (latter - former) / len(seconds)


def _representative(rows: np.ndarray, x: sparse.csr_matrix) -> int:
    """The row nearest the centre of the issue's rows."""
    block = x[rows]
    centre = np.asarray(block.mean(axis=0)).ravel()
    return int(rows[np.asarray(block @ centre).ravel().argmax()])


def _themes(issues: pd.DataFrame, settings: HotIssueSettings) -> tuple[np.ndarray, list[str]]:
    """Theme of each issue: issues whose representative texts share their wording (binary
    2–3-grams, no rarity weight: the common words of a kind of problem, not the place)."""
    n = len(issues)
    if n == 0:
        return np.empty(0, np.int64), []
    text = normalised(pa.array((issues["representative_title"].fillna("") + " "
                                + issues["representative_text"].fillna("")).tolist()))
    try:
        x = CountVectorizer(analyzer="char", ngram_range=(2, 3), lowercase=False,
                            binary=True).fit_transform(text.to_numpy(zero_copy_only=False))
    except ValueError:
        return np.arange(n), issues["representative_title"].fillna("").tolist()
    x = normalize(x.astype(np.float32))
    similar = (x @ x.T).tocoo()
    keep = similar.data >= settings.theme_similarity
    graph = sparse.coo_matrix((np.ones(int(keep.sum())), (similar.row[keep], similar.col[keep])),
                              shape=(n, n))
    _, theme = connected_components(graph, directed=False)
    labels = []
    for t in range(theme.max() + 1):
        members = issues.loc[theme == t]
        # The title most of its tickets carry, among its issues' representative titles.
        titles = Counter()
        for title, size in zip(members["representative_title"], members["tickets"], strict=True):
            titles[title or ""] += int(size)
        labels.append(titles.most_common(1)[0][0] if titles else "")
    return theme, labels


def _heat(tickets: np.ndarray, growth: np.ndarray, age_days: np.ndarray,
          settings: HotIssueSettings) -> np.ndarray:
    heat = settings.heat
    return np.round(tickets * (1 + heat.growth_weight * growth)
                    * np.power(0.5, age_days / heat.half_life_days), 2)


def find_hot_issues(tickets: pa.Table, settings: HotIssueSettings) -> HotIssues:
    """The hot issues of the tickets (columns TICKET_COLUMNS), every city on its own."""
    if tickets.num_rows == 0:
        return _empty()
    # A ticket of no known request type may report a problem (a message board's posts say
    # none).
    wanted = pc.or_kleene(pc.is_in(tickets["request_type"], pa.array(settings.request_types)),
                          pc.is_null(tickets["request_type"]))
    tickets = tickets.filter(wanted)
    texts_all = normalised(tickets["content"])
    tickets = tickets.append_column("_text", texts_all).filter(
        pc.greater_equal(pc.utf8_length(texts_all), 4))
    frame = tickets.to_pandas()
    issue_rows: list[dict[str, object]] = []
    member_rows: list[pd.DataFrame] = []
    for city_code, city in frame.groupby("city_code", sort=True):
        seconds = (city["received_at"].to_numpy("datetime64[s]").astype(np.int64))
        # Tickets without a district are linked among themselves: a city that exports no
        # districts (a message board) is one block, where the text names the place.
        district = city["district"].fillna("").to_numpy(object)
        groups, x = _city_groups(city["_text"].to_numpy(object), district, seconds, settings)
        if x is None or groups.max() < 0:
            continue
        for g in range(groups.max() + 1):
            rows = np.flatnonzero(groups == g)
            first = rows[np.argmin(seconds[rows])]
            representative = _representative(rows, x)
            categories = city["category_name"].iloc[rows].value_counts()
            days = pd.to_datetime(seconds[rows], unit="s").normalize()
            issue_id = _issue_id(str(city_code), str(city["ticket_id"].iloc[first]))
            issue_rows.append({
                "issue_id": issue_id,
                "city_code": city_code,
                "district": _most_common(city["district"].iloc[rows]),
                "first_day": days.min().date(),
                "last_day": days.max().date(),
                "tickets": len(rows),
                "active_days": int(days.nunique()),
                "growth": round(_growth(seconds[rows]), 4),
                "representative_title": city["title"].iloc[representative],
                "representative_text": city["content"].iloc[representative],
                "category_name": categories.index[0],
                "category_share": round(float(categories.iloc[0] / len(rows)), 4),
            })
            member_rows.append(pd.DataFrame({"issue_id": issue_id, "city_code": city_code,
                                             "ticket_id": city["ticket_id"].iloc[rows]}))
    if not issue_rows:
        return _empty()
    issues = pd.DataFrame(issue_rows)
    issues["representative_text"] = (
        pc.replace_substring_regex(pa.array(issues["representative_text"].fillna("")),
                                   _OPENING, "").to_pylist())
    first_day = pd.to_datetime(issues["first_day"])
    issues["listed_month"] = first_day.dt.to_period("M").dt.start_time.dt.date
    month_end = first_day.dt.to_period("M").dt.end_time.dt.normalize()
    age = (month_end - pd.to_datetime(issues["last_day"])).dt.days.clip(lower=0)
    issues["heat"] = _heat(issues["tickets"].to_numpy(float), issues["growth"].to_numpy(float),
                           age.to_numpy(float), settings)
    issues = issues.sort_values(["city_code", "listed_month", "heat", "tickets", "issue_id"],
                                ascending=[True, True, False, False, True], ignore_index=True)
    issues["rank_in_city_month"] = (
        issues.groupby(["city_code", "listed_month"]).cumcount() + 1)
    issues["is_listed"] = issues["rank_in_city_month"] <= settings.top_per_city_month
    theme, labels = _themes(issues, settings)
    theme_ids = {t: _issue_id("theme", "|".join(sorted(issues["issue_id"][theme == t])))
                 for t in range(len(labels))}
    issues["theme_id"] = [theme_ids[t] for t in theme]
    issues["theme_label"] = [labels[t] for t in theme]
    return HotIssues(issues[list(ISSUE_COLUMNS)],
                     pd.concat(member_rows, ignore_index=True))
