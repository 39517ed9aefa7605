"""Province scale: millions of tickets from 20+ sources and test calls for 350 hotlines.

`generate_province(root)` writes a complete data root that the pipeline runs on as it is:

- `landing/<source_id>/…`: the ten demo sources in their own layouts, and more cities
  (EXTRA_SOURCES) that export in the layout of one of them (CSV and JSON Lines), each with its
  own file names, ticket ids and districts, at the demo's dirt rates;
- `landing/evaluator_d3/监测拨测_{year}.xlsx`: test calls of the seed's hotlines plus synthetic
  ones, 350 in all;
- `reference/cities.csv`: the synthetic hotlines, which the city dimension adds to the seed;
- `sources/*.yaml`: the bundled source configurations and one for each extra source, for
  HOTLINE_SOURCES_DIR.

Sources are written by parallel processes (one task per source, largest first); each source has
its own random stream, so the files do not depend on the number of workers or the order.
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import multiprocessing
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from dagster_project.demo.generator import (
    DEFAULT_CITIES_CSV,
    DEFAULT_SEED,
    LAYOUTS,
    YEARS,
    DemoFile,
    DemoSummary,
    Layout,
    _allocate,
    _city_name,
    _rng,
    _source_work_orders,
    _test_calls,
    _ticket_counts,
    layout_of,
    load_cities,
    mark_demo_files,
)
from dagster_project.settings import DATA_ROOT_ENV, PACKAGE_ROOT, SOURCES_DIR_ENV, DataPaths
from dagster_project.sources import SourceConfig, load_source_config

PROVINCE_TOTAL_TICKETS: Final = 10_000_000
PROVINCE_HOTLINES: Final = 350
PROVINCE_TICKET_SOURCES: Final = 20
PROVINCE_WORKERS: Final = 2
# 连云港's XLSX is written cell by cell, far slower per row than the CSV and JSON layouts
# (BENCHMARKS.md, "Figures that were in code comments"): in province mode its
# tickets are capped a year, and what the cap removes goes to the other sources.
XLSX_MAX_TICKETS_PER_YEAR: Final = 100_000
XLSX_ROW_COST: Final = 20  # relative to a CSV or JSON row, to schedule the largest tasks first
BUNDLED_SOURCES_DIR: Final = PACKAGE_ROOT / "config" / "sources"
# Synthetic hotlines: codes 9NNN00. GB/T 2260 has no province code starting with 9, so they
# cannot collide with a real city; names say what they are. The number sits before 市: a name
# ending in digits would run into the hotline's "12345" (模拟市010 + 12345 reads as Beijing's
# area code and a number, which the personal-data check rightly stops).
SYNTHETIC_CODE: Final = "9{:03d}00"
SYNTHETIC_NAME: Final = "模拟{:03d}市"
SYNTHETIC_MAX: Final = 999
SYNTHETIC_POPULATION: Final = (3_500_000, 0.6, 300_000, 15_000_000)  # median, sigma, min, max
# glibc mallopt parameters, and the size below which a worker keeps freed memory for reuse.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
WORKER_KEEPS_FREED: Final = 1 << 30


@dataclass(frozen=True)
class ExtraSource:
    """A city that exports in the layout of one of the demo sources (its `template`)."""

    source_id: str
    city_code: str
    template: str  # source_id of the demo layout: format, headers, values, encoding, dirt
    file_name: str  # with {year}
    ticket_id: tuple[str, bool, int]  # as City.ticket_id
    districts: tuple[str, ...]


EXTRA_SOURCES: Final[tuple[ExtraSource, ...]] = (
    ExtraSource(
        "chongqing_12345", "500000", "beijing_12345", "重庆12345工单导出_{year}.csv",
        ("CQ{year}", False, 8),
        ("渝中区", "江北区", "南岸区", "九龙坡区", "沙坪坝区", "大渡口区", "渝北区", "巴南区",
         "北碚区", "万州区", "涪陵区", "永川区", "合川区", "江津区"),
    ),
    ExtraSource(
        "chengdu_12345", "510100", "taizhou_12345", "chengdu_orders_{year}.csv",
        ("CD{year}", False, 9),
        ("锦江区", "青羊区", "金牛区", "武侯区", "成华区", "龙泉驿区", "青白江区", "新都区",
         "温江区", "双流区", "郫都区", "都江堰市"),
    ),
    ExtraSource(
        "tianjin_12345", "120000", "guangzhou_12345", "天津12345工单_{year}年度.csv",
        ("TJ", True, 6),
        ("和平区", "河东区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区",
         "津南区", "北辰区", "武清区", "宝坻区", "滨海新区", "宁河区", "静海区", "蓟州区"),
    ),
    ExtraSource(
        "shenzhen_12345", "440300", "liaocheng_12345", "shenzhen_12345_{year}.jsonl",
        ("SZ", True, 5),
        ("福田区", "罗湖区", "南山区", "宝安区", "龙岗区", "盐田区", "龙华区", "坪山区",
         "光明区"),
    ),
    ExtraSource(
        "wuhan_12345", "420100", "shanghai_12345", "WH12345_工单_{year}.csv",
        ("WH-{year}-", False, 7),
        ("江岸区", "江汉区", "硚口区", "汉阳区", "武昌区", "青山区", "洪山区", "东西湖区",
         "汉南区", "蔡甸区", "江夏区", "黄陂区", "新洲区"),
    ),
    ExtraSource(
        "hangzhou_12345", "330100", "haikou_12345", "杭州12345工单明细_{year}.csv",
        ("HZ", True, 5),
        ("上城区", "下城区", "江干区", "拱墅区", "西湖区", "滨江区", "萧山区", "余杭区",
         "富阳区", "临安区", "桐庐县", "淳安县", "建德市"),
    ),
    ExtraSource(
        "xian_12345", "610100", "yanan_12345", "西安问政留言_{year}.csv",
        ("XA{year}", False, 7),
        ("新城区", "碑林区", "莲湖区", "灞桥区", "未央区", "雁塔区", "阎良区", "临潼区",
         "长安区", "高陵区", "鄠邑区", "蓝田县", "周至县"),
    ),
    ExtraSource(
        "zhengzhou_12345", "410100", "yibin_12345", "郑州12345_工单_{year}.csv",
        ("ZZ", True, 5),
        ("中原区", "二七区", "管城回族区", "金水区", "上街区", "惠济区", "中牟县", "巩义市",
         "荥阳市", "新密市", "新郑市", "登封市"),
    ),
    ExtraSource(
        "qingdao_12345", "370200", "liaocheng_12345", "qingdao_12345_{year}.jsonl",
        ("QD", True, 5),
        ("市南区", "市北区", "黄岛区", "崂山区", "李沧区", "城阳区", "即墨区", "胶州市",
         "平度市", "莱西市"),
    ),
    ExtraSource(
        "changsha_12345", "430100", "beijing_12345", "长沙12345工单导出_{year}.csv",
        ("CS{year}", False, 8),
        ("芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县", "浏阳市",
         "宁乡市"),
    ),
    ExtraSource(
        "shenyang_12345", "210100", "haikou_12345", "沈阳12345工单明细_{year}.csv",
        ("SY", True, 5),
        ("和平区", "沈河区", "大东区", "皇姑区", "铁西区", "苏家屯区", "浑南区", "沈北新区",
         "于洪区", "辽中区", "康平县", "法库县", "新民市"),
    ),
    ExtraSource(
        "hefei_12345", "340100", "taizhou_12345", "hefei_orders_{year}.csv",
        ("HF{year}", False, 9),
        ("瑶海区", "庐阳区", "蜀山区", "包河区", "长丰县", "肥东县", "肥西县", "庐江县",
         "巢湖市"),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class ProvinceSummary(DemoSummary):
    """What `generate_province` wrote; landing_root is `<data_root>/landing`."""

    data_root: Path
    sources_dir: Path
    reference_cities: Path
    hotlines: int
    ticket_sources: int

    def how_to_run(self) -> str:
        return "\n".join([
            "run the pipeline on it:",
            f"  export {DATA_ROOT_ENV}={self.data_root}",
            f"  export {SOURCES_DIR_ENV}={self.sources_dir}",
            "  hotline ingest && hotline build && hotline report --year 2019",
        ])


def _templates() -> dict[str, Layout]:
    return {lay.source_id: lay for lay in LAYOUTS}


def extra_config(extra: ExtraSource, cities: pd.DataFrame) -> dict[str, Any]:
    """The source configuration of an extra city: its template's YAML with the city's own id,
    name, city code and file pattern."""
    config = yaml.safe_load((BUNDLED_SOURCES_DIR / f"{extra.template}.yaml").read_text("utf-8"))
    return config | {
        "source_id": extra.source_id,
        "name": f"{_city_name(cities, extra.city_code)}12345",
        "city_code": extra.city_code,
        "file_pattern": extra.file_name.format(year="*"),
    }


def extra_layout(extra: ExtraSource, cities: pd.DataFrame) -> Layout:
    """The layout the extra city's configuration describes, with its template city's demo
    choices but its own file names, ids and districts; category top levels in the national
    wording (the category mappings seed has no rows for the city, and needs none)."""
    template = _templates()[extra.template]
    old, new = _city_name(cities, template.city_code), _city_name(cities, extra.city_code)
    city = dataclasses.replace(
        template.city,
        source_id=extra.source_id,
        ticket_id=extra.ticket_id,
        file_name=extra.file_name,
        districts=extra.districts,
        title_rows=tuple(t.replace(old, new) for t in template.city.title_rows),
    )
    return layout_of(SourceConfig.model_validate(extra_config(extra, cities)), city)


def synthetic_hotlines(seed: int, count: int, cities: pd.DataFrame) -> pd.DataFrame:
    """`count` made-up hotline cities (the seed's columns) in the seed's provinces."""
    if count > SYNTHETIC_MAX:
        raise ValueError(f"at most {SYNTHETIC_MAX} synthetic hotlines")
    rng = _rng(seed, "synthetic_hotlines")
    provinces = cities.drop_duplicates("province")[["province", "region"]]
    where = provinces.iloc[rng.integers(0, len(provinces), count)]
    median, sigma, low, high = SYNTHETIC_POPULATION
    population = np.clip(rng.lognormal(math.log(median), sigma, count), low, high)
    numbers = range(1, count + 1)
    return pd.DataFrame({
        "city_code": [SYNTHETIC_CODE.format(i) for i in numbers],
        "city_name": [SYNTHETIC_NAME.format(i) for i in numbers],
        "province": where["province"].to_numpy(),
        "region": where["region"].to_numpy(),
        "population_2019": np.round(population, -3).astype(np.int64),
    })


def province_counts(layouts: Sequence[Layout], total: int, cities: pd.DataFrame) -> np.ndarray:
    """Distinct tickets per source and year by population, the XLSX source capped a year."""
    counts = _ticket_counts(layouts, total, cities)
    capped = np.asarray([lay.file_format == "xlsx" for lay in layouts])
    excess = int(np.maximum(counts[capped] - XLSX_MAX_TICKETS_PER_YEAR, 0).sum())
    counts[capped] = np.minimum(counts[capped], XLSX_MAX_TICKETS_PER_YEAR)
    if excess:
        counts[~capped] += _allocate(excess, counts[~capped].astype(float))
    return counts


def write_sources(
    directory: Path, extras: Sequence[ExtraSource], cities: pd.DataFrame
) -> None:
    """The bundled source configurations and each extra source's (extra_config), validated as
    the pipeline loads them."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(BUNDLED_SOURCES_DIR.glob("*.yaml")):
        shutil.copyfile(path, directory / path.name)
    for extra in extras:
        config = extra_config(extra, cities)
        path = directory / f"{extra.source_id}.yaml"
        path.write_text(
            f"# {config['name']}: synthetic province-scale exports in the layout of "
            f"{extra.template}.yaml.\n"
            + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        load_source_config(path)


def _keep_freed_memory() -> None:
    """Worker set-up. A source allocates and frees arrays of hundreds of MB over and over; by
    default they are handed back to the system and faulted in again, which took a large share
    of the CPU time (BENCHMARKS.md, "Figures that were in code comments"). Arrow allocates
    through malloc here, and glibc's malloc keeps what is freed (other C libraries: their
    defaults)."""
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, WORKER_KEEPS_FREED)
    libc.mallopt(M_TRIM_THRESHOLD, WORKER_KEEPS_FREED)


def _work_orders_in_parallel(
    landing: Path,
    seed: int,
    layouts: Sequence[Layout],
    counts: np.ndarray,
    cities: pd.DataFrame,
    workers: int,
    test_call_cities: pd.DataFrame,
) -> list[DemoFile]:
    """Every source's files (one task a source, the costliest first) and, meanwhile, the test
    calls in this process; files in the order of `layouts`, the test calls last."""
    tasks = [
        (landing, seed, lay, _city_name(cities, lay.city_code), per_year.tolist())
        for lay, per_year in zip(layouts, counts, strict=True)
    ]
    cost = [
        int(per_year.sum()) * (XLSX_ROW_COST if lay.file_format == "xlsx" else 1)
        for lay, per_year in zip(layouts, counts, strict=True)
    ]
    order = sorted(range(len(tasks)), key=lambda i: -cost[i])
    if workers <= 1:
        done = {i: _source_work_orders(*tasks[i]) for i in order}
        calls = _test_calls(landing, seed, test_call_cities)
    else:
        context = multiprocessing.get_context("spawn")  # no Arrow thread pools across a fork
        with ProcessPoolExecutor(workers, context, _keep_freed_memory) as pool:
            futures = {i: pool.submit(_source_work_orders, *tasks[i]) for i in order}
            calls = _test_calls(landing, seed, test_call_cities)
            done = {i: future.result() for i, future in futures.items()}
    return [f for i in range(len(tasks)) for f in done[i]] + calls


def generate_province(
    root: Path,
    *,
    seed: int = DEFAULT_SEED,
    total_tickets: int = PROVINCE_TOTAL_TICKETS,
    hotlines: int = PROVINCE_HOTLINES,
    ticket_sources: int = PROVINCE_TICKET_SOURCES,
    workers: int = PROVINCE_WORKERS,
    cities_csv: Path | None = None,
) -> ProvinceSummary:
    """Write a province-scale data root: landing files, reference/cities.csv and sources/.

    `total_tickets` distinct tickets over `ticket_sources` sources (the ten demo sources, then
    EXTRA_SOURCES in order) by population, the XLSX source capped at XLSX_MAX_TICKETS_PER_YEAR
    a year; test calls for `hotlines` hotlines (the seed's, then synthetic ones) in 2019, six
    fewer in 2018.
    """
    most = len(LAYOUTS) + len(EXTRA_SOURCES)
    if not len(LAYOUTS) <= ticket_sources <= most:
        raise ValueError(f"ticket_sources must be between {len(LAYOUTS)} and {most}")
    if total_tickets < ticket_sources * len(YEARS):
        raise ValueError(f"total_tickets must be at least {ticket_sources * len(YEARS)}")
    cities = load_cities(cities_csv)
    if hotlines < len(cities):
        raise ValueError(f"hotlines must be at least the {len(cities)} cities of the seed")
    if cities["city_code"].str.startswith("9").any():
        raise ValueError(f"{cities_csv or DEFAULT_CITIES_CSV}: codes 9xxxxx are for synthetic "
                         "hotlines")
    extras = EXTRA_SOURCES[: ticket_sources - len(LAYOUTS)]
    layouts = LAYOUTS + tuple(extra_layout(e, cities) for e in extras)
    missing = sorted({lay.city_code for lay in layouts} - set(cities["city_code"]))
    if missing:
        raise ValueError(f"{cities_csv or DEFAULT_CITIES_CSV}: no row for city code(s) {missing}")
    paths = DataPaths(root=Path(root))
    synthetic = synthetic_hotlines(seed, hotlines - len(cities), cities)
    reference = paths.reference / "cities.csv"
    reference.parent.mkdir(parents=True, exist_ok=True)
    synthetic.to_csv(reference, index=False, encoding="utf-8", lineterminator="\n")
    sources = paths.root / "sources"
    write_sources(sources, extras, cities)
    counts = province_counts(layouts, total_tickets, cities)
    files = _work_orders_in_parallel(
        paths.landing,
        seed,
        layouts,
        counts,
        cities,
        workers,
        pd.concat([cities, synthetic], ignore_index=True),
    )
    mark_demo_files(paths.landing, files)
    return ProvinceSummary(
        landing_root=paths.landing,
        seed=seed,
        total_tickets=total_tickets,
        files=tuple(files),
        data_root=paths.root,
        sources_dir=sources,
        reference_cities=reference,
        hotlines=hotlines,
        ticket_sources=len(layouts),
    )
