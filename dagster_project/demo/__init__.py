"""Deterministic demo landing data: what ten city hotlines and the evaluator would send, and a
province-scale variant (20+ sources, 350 hotlines)."""

from dagster_project.demo.generator import LAYOUTS, DemoFile, DemoSummary, generate_demo
from dagster_project.demo.province import ProvinceSummary, generate_province

__all__ = [
    "LAYOUTS",
    "DemoFile",
    "DemoSummary",
    "ProvinceSummary",
    "generate_demo",
    "generate_province",
]
