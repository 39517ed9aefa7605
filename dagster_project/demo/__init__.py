"""Deterministic demo landing data: what ten city hotlines and the evaluator would send."""

from dagster_project.demo.generator import LAYOUTS, DemoFile, DemoSummary, generate_demo

__all__ = ["LAYOUTS", "DemoFile", "DemoSummary", "generate_demo"]
